"""Shared test data: real-shaped people from the public scenarios, and a builder for
a sandbox provider over an inline registry."""

from __future__ import annotations

from datetime import date
from typing import Any

from realname.authorities.sandbox import FaultPlan, FixedClock, SandboxConfig, SandboxProvider
from realname.authorities.sandbox.fixtures import Scenario

TODAY = date(2026, 12, 1)

XIAOMING = {
    "ref": "a",
    "name": "王小明",
    "id_number": "110105199003071239",
    "valid_until": "2031-05-01",
    "portrait": "p1",
}
JIANGUO = {
    "ref": "h",
    "name": "王建国",
    "id_number": "11010519700101803X",
    "valid_until": "2036-01-01",
}
XIUYING = {
    "ref": "b",
    "name": "李秀英",
    "id_number": "31010419650412245X",
    "valid_until": "2025-04-12",
}
MAIMAITI = {"ref": "d", "name": "买买提·艾力", "id_number": "650102199201054575"}

PHONE_A = "13912345678"  # a China Mobile block
PHONE_B = "18612340003"  # a China Unicom block
CARD = "6222020200112230004"  # ICBC, Luhn-valid


def scenario(registry: dict[str, Any], **extra: Any) -> Scenario:
    data: dict[str, Any] = {
        "id": "test",
        "registry": registry,
        "submit": {},
        "product_level": "L2",
        "expect": {"level": "L0"},
    }
    data.update(extra)
    return Scenario.model_validate(data)


def provider(
    registry: dict[str, Any],
    *,
    today: date = TODAY,
    config: SandboxConfig | None = None,
    faults: FaultPlan | None = None,
    manual_seconds: bool = True,
    **extra: Any,
) -> SandboxProvider:
    """A sandbox over ``registry``; its clock's seconds move only when advanced."""
    clock = FixedClock(today, monotonic=0.0 if manual_seconds else None)
    built = SandboxProvider.for_scenario(
        scenario(registry, **extra), today=today, config=config, clock=clock
    )
    if faults is not None:
        built.faults = faults
    return built
