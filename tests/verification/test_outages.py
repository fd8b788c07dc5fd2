"""A provider that does not answer is PROVIDER_UNAVAILABLE — never a mismatch.

Property: taking any one scenario and making any one check time out, fail or answer
"busy" never produces a cause the clean run did not have, other than
PROVIDER_UNAVAILABLE, and never raises the level.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from realname.authorities.protocol import Check
from realname.authorities.sandbox.config import FaultKind
from realname.authorities.sandbox.fixtures import Fault, load_fixture_file
from realname.verification.scenarios import ScenarioRunner
from tests.verification.conftest import DATA

FIXTURE = load_fixture_file(DATA / "public.yaml")
SCENARIOS = [s for s in FIXTURE.scenarios if s.submit.face is None and not s.faults]
CHECKS = [c for c in Check if c not in (Check.FACE_LIVENESS, Check.FACE_COMPARE)]
KINDS = [FaultKind.TIMEOUT, FaultKind.SERVER_ERROR, FaultKind.BUSY]
LEVELS = ["L0", "L1", "L2", "L3"]


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    scenario=st.sampled_from(SCENARIOS),
    check=st.sampled_from(CHECKS),
    kind=st.sampled_from(KINDS),
)
def test_an_outage_is_never_reported_as_a_mismatch(
    runner: ScenarioRunner, scenario: object, check: Check, kind: FaultKind
) -> None:
    from realname.authorities.sandbox.fixtures import Scenario

    assert isinstance(scenario, Scenario)
    clean = runner.run(FIXTURE, scenario)
    faulty_scenario = scenario.model_copy(update={"faults": [Fault(check=check, kind=kind)]})
    faulty = runner.run(FIXTURE, faulty_scenario)
    assert faulty.got_level is not None
    assert clean.got_level is not None
    assert LEVELS.index(faulty.got_level) <= LEVELS.index(clean.got_level)
    new = set(faulty.got_causes) - set(clean.got_causes)
    assert new <= {"PROVIDER_UNAVAILABLE"}, (scenario.id, check, kind, new)
