from __future__ import annotations

import pytest
from pydantic import ValidationError

from realname.risk.signals import (
    Behaviour,
    Signals,
    features,
    locate,
    phone_home_province,
)
from tests.risk.conftest import quiet

HASTY = Behaviour(fill_seconds=1.5, paste_identity_fields=2, corrections=0, focus_changes=0)


def test_absurd_numbers_become_unknown() -> None:
    signals = quiet(days_since_verification=-3, device_count=-1, velocity={"ip_1h": -5})
    assert signals.days_since_verification is None
    assert signals.device_count is None
    assert signals.velocity.ip_1h is None


@pytest.mark.parametrize("device_id", ["emulator", "curl/8.0", "", "x" * 200])
def test_unknown_device_formats_are_unknown(device_id: str) -> None:
    assert quiet(device_id=device_id).device_id is None
    values, _ = features(quiet(device_id=device_id))
    assert values["device_id_known_format"] is False


def test_wrong_types_are_rejected() -> None:
    with pytest.raises(ValidationError):
        Signals.model_validate({"action": "login", "device_count": "many"})
    with pytest.raises(ValidationError):
        Signals.model_validate({"action": "teleport"})


def test_behaviour_needs_consent() -> None:
    without, notes = features(quiet(consent=False, behaviour=HASTY))
    assert without["fill_seconds"] is None
    assert without["paste_identity_fields"] is None
    assert notes == ("BEHAVIOUR_IGNORED_NO_CONSENT",)
    with_consent, notes = features(quiet(consent=True, behaviour=HASTY))
    assert with_consent["fill_seconds"] == 1.5
    assert with_consent["paste_identity_fields"] == 2.0
    assert notes == ()


def test_province_mismatch_and_abroad() -> None:
    assert features(quiet())[0]["ip_province_mismatch"] is False
    assert features(quiet(ip_province="北京"))[0]["ip_province_mismatch"] is True
    abroad = quiet(ip="8.8.8.8", ip_country="美国", ip_province=None)
    assert features(abroad)[0]["ip_province_mismatch"] is True
    assert features(quiet(ip_province=None))[0]["ip_province_mismatch"] is None


def test_peak_velocity_over_keys() -> None:
    values, _ = features(quiet(velocity={"phone_1h": 2, "ip_1h": 9}))
    assert values["attempts_1h"] == 9.0
    assert values["attempts_24h"] is None


def test_locate_fills_province_from_ip() -> None:
    signals = Signals.model_validate({"action": "login", "ip": "202.106.0.20"})
    located = locate(signals)
    assert located.ip_province == "北京市"
    assert located.ip_country == "中国"


def test_phone_home_province_matches_geoip_names() -> None:
    assert phone_home_province("13800138000") == "北京市"
    assert phone_home_province("not a phone") is None
