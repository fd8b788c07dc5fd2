"""The embedded sandbox: a simulated public-security registry, carriers and banks.

Build one for a fixture scenario (what the verification engine does)::

    fixture = load_fixture_file("scenarios.yaml")
    scenario = fixture.scenario("phone-recycled")
    provider = SandboxProvider.for_scenario(scenario, today=fixture.today_for(scenario))
    answer = await provider.carrier_three_element(name, id_number, phone)

or over a persistent store (``realname sandbox load`` / ``generate``)::

    provider = SandboxProvider(SandboxStore("var/sandbox.db"), "generated",
                               clock=FixedClock(date(2026, 12, 1)),
                               config=SandboxConfig.realistic())

``provider.clock`` moves the date (a :class:`FixedClock` has ``set_today`` and
``advance``); ``provider.faults`` forces or randomises faults per check;
``provider.ledger`` totals what the calls cost.
"""

from __future__ import annotations

from realname.authorities.sandbox.config import (
    Clock,
    FaultKind,
    FaultPlan,
    FixedClock,
    LatencyModel,
    SandboxConfig,
    SystemClock,
)
from realname.authorities.sandbox.fixtures import (
    FixtureFile,
    Scenario,
    load_fixture_file,
    load_into_store,
    parse_fixture,
)
from realname.authorities.sandbox.generator import Shares, generate, generate_into
from realname.authorities.sandbox.provider import BillingLedger, SandboxProvider
from realname.authorities.sandbox.store import SandboxStore

__all__ = [
    "BillingLedger",
    "Clock",
    "FaultKind",
    "FaultPlan",
    "FixedClock",
    "FixtureFile",
    "LatencyModel",
    "SandboxConfig",
    "SandboxProvider",
    "SandboxStore",
    "Scenario",
    "Shares",
    "SystemClock",
    "generate",
    "generate_into",
    "load_fixture_file",
    "load_into_store",
    "parse_fixture",
]
