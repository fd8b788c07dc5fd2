from __future__ import annotations

from typing import Any

import pytest

from realname.risk.signals import Action, Signals

USUAL_DEVICE = "5d9dc9f8-1818-4811-892f-902bd23f0824"


def quiet(action: Action = Action.CREDIT_DRAWDOWN, **changes: Any) -> Signals:
    """A returning user on the usual phone at home: nothing to worry about."""
    data: dict[str, Any] = {
        "action": action,
        "device_id": USUAL_DEVICE,
        "device_known": True,
        "device_count": 1,
        "ip": "202.96.128.86",
        "ip_country": "中国",
        "ip_province": "广东省",
        "phone_home_province": "广东省",
        "sim_swap_recent": False,
        "network_tenure": "24+",
        "velocity": {"id_number_1h": 1, "phone_1h": 1, "device_1h": 1, "ip_1h": 1, "ip_24h": 2},
        "days_since_verification": 10,
    }
    data.update(changes)
    return Signals.model_validate(data)


@pytest.fixture
def quiet_signals() -> Signals:
    return quiet()
