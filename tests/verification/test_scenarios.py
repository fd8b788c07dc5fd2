"""Every fixture scenario through the real engine: store, planner, sandbox, diagnosis.

``public.yaml`` is the shared contract (copied from ../shared/scenarios);
``causes.yaml`` is realname's own, reaching every cause code a fixture can express.
"""

from __future__ import annotations

import pytest

from realname.authorities.sandbox.fixtures import FixtureFile, Scenario, load_fixture_file
from realname.verification.scenarios import ScenarioRunner
from tests.verification.conftest import DATA

FILES = ("public.yaml", "causes.yaml")


def _scenarios() -> list[tuple[FixtureFile, Scenario]]:
    cases = []
    for name in FILES:
        fixture = load_fixture_file(DATA / name)
        cases.extend((fixture, scenario) for scenario in fixture.scenarios)
    return cases


CASES = _scenarios()


@pytest.mark.parametrize(
    ("fixture", "scenario"), CASES, ids=[scenario.id for _, scenario in CASES]
)
def test_scenario(runner: ScenarioRunner, fixture: FixtureFile, scenario: Scenario) -> None:
    result = runner.run(fixture, scenario)
    assert result.error is None
    assert (result.got_level, sorted(result.got_causes)) == (
        result.expected_level,
        sorted(result.expected_causes),
    )


def test_an_invalid_id_costs_nothing(runner: ScenarioRunner) -> None:
    fixture = load_fixture_file(DATA / "public.yaml")
    result = runner.run(fixture, fixture.scenario("id-checksum-typo"))
    assert result.cost_fen == 0
    assert result.rounds == 0


def test_l2_takes_at_most_two_round_trips(runner: ScenarioRunner) -> None:
    fixture = load_fixture_file(DATA / "public.yaml")
    fast = ("happy-l2-phone", "phone-ported-to-another-carrier", "sim-card-just-replaced")
    for scenario_id in fast:
        result = runner.run(fixture, fixture.scenario(scenario_id))
        assert result.got_level == "L2"
        assert result.rounds <= 2, scenario_id
