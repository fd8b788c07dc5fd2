"""The pure rules of one-time codes: codes, MACs, send limits, refusals, message text."""

from __future__ import annotations

from datetime import timedelta
from hashlib import sha256

import pytest
from hypothesis import given
from hypothesis import strategies as st

from realname.accounts import otp
from realname.accounts.errors import (
    OtpAttemptsExceeded,
    OtpExpired,
    OtpInvalid,
    OtpRateLimited,
    OtpUndeliverable,
)
from realname.accounts.messages import sms_text
from realname.privacy.keys import Keyring
from realname.privacy.vault import Vault
from tests.accounts.conftest import T0, VAULT

POLICY = otp.DEFAULT_POLICY


def test_codes_are_six_digits_and_vary() -> None:
    codes = [otp.new_code() for _ in range(200)]
    assert all(len(c) == 6 and c.isdigit() for c in codes)
    assert len(set(codes)) > 190  # 200 draws from 10^6 values rarely collide


def test_leading_zeros_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(otp.secrets, "randbelow", lambda _n: 42)
    assert otp.new_code() == "000042"


@pytest.mark.parametrize(
    ("submitted", "normalised", "well_formed"),
    [
        ("123456", "123456", True),
        (" 123 456 ", "123456", True),
        ("１２３４５６", "123456", True),
        ("12345", "12345", False),
        ("1234567", "1234567", False),
        ("12345a", "12345a", False),
        ("١٢٣٤٥٦", "١٢٣٤٥٦", False),  # Arabic-Indic digits are digits, but not ASCII
    ],
)
def test_normalise_code(submitted: str, normalised: str, well_formed: bool) -> None:
    assert otp.normalise_code(submitted) == (normalised, well_formed)


def test_code_mac_is_keyed_and_bound_to_the_challenge() -> None:
    mac = otp.code_mac(VAULT, "challenge-1", "123456")
    assert len(mac) == 64
    assert mac == otp.code_mac(VAULT, "challenge-1", "123456")
    assert mac != otp.code_mac(VAULT, "challenge-2", "123456")
    assert mac != otp.code_mac(Vault(Keyring.generate()), "challenge-1", "123456")
    assert mac != sha256(b"123456").hexdigest()
    # Not the vault's phone blind index either: the subkeys are separate.
    assert mac != VAULT.blind_index("phone", "123456")


def test_send_wait_cooldown() -> None:
    assert otp.send_wait([], T0, POLICY) == 0
    assert otp.send_wait([T0], T0 + timedelta(seconds=1), POLICY) == 59
    assert otp.send_wait([T0], T0 + timedelta(seconds=59, microseconds=1), POLICY) == 1
    assert otp.send_wait([T0], T0 + timedelta(seconds=60), POLICY) == 0


def test_send_wait_hourly_and_daily_windows() -> None:
    five = [T0 + timedelta(minutes=m) for m in range(5)]
    assert otp.send_wait(five, T0 + timedelta(minutes=5), POLICY) == 55 * 60
    assert otp.send_wait(five, T0 + timedelta(minutes=60), POLICY) == 0
    ten = five + [T0 + timedelta(hours=2, minutes=m) for m in range(5)]
    now = T0 + timedelta(hours=3)
    assert otp.send_wait(ten, now, POLICY) == 21 * 3600
    assert otp.send_wait(ten, T0 + timedelta(days=1), POLICY) == 0
    # Sends in the future of ``now`` (clock skew between hosts) do not count.
    assert otp.send_wait([T0 + timedelta(minutes=1)], T0, POLICY) == 0


@given(
    st.lists(st.integers(min_value=0, max_value=2 * 86_400), max_size=30),
    st.integers(min_value=0, max_value=2 * 86_400),
)
def test_waiting_as_told_is_enough(offsets: list[int], at: int) -> None:
    """After waiting ``send_wait`` seconds (and no new sends), a send is allowed."""
    now = T0 + timedelta(seconds=at)
    sends = [T0 + timedelta(seconds=s) for s in offsets if s <= at]
    wait = otp.send_wait(sends, now, POLICY)
    assert wait >= 0
    assert otp.send_wait(sends, now + timedelta(seconds=wait), POLICY) == 0
    if wait > 1:
        assert otp.send_wait(sends, now + timedelta(seconds=wait - 1), POLICY) > 0


def test_refusals_before_any_code_is_compared() -> None:
    later = T0 + timedelta(minutes=10)
    assert otp.refusal("pending", later, T0) is None
    assert isinstance(otp.refusal("pending", later, later), OtpExpired)
    assert isinstance(otp.refusal("locked", later, T0), OtpAttemptsExceeded)
    assert isinstance(otp.refusal("superseded", later, T0), OtpExpired)
    assert isinstance(otp.refusal("undeliverable", later, T0), OtpUndeliverable)
    assert isinstance(otp.refusal("verified", later, T0), OtpInvalid)
    assert isinstance(otp.refusal("consumed", later, T0), OtpInvalid)


def test_message_text() -> None:
    assert (
        sms_text("signup", "012345", 10)
        == "【realname】验证码 012345，10分钟内有效，请勿告诉他人。"
    )
    assert sms_text("login", "012345", 10) == sms_text("signup", "012345", 10)
    assert "关联" in sms_text("link_account", "012345", 10)
    assert "Do not share" in sms_text("possession", "012345", 5, "en")
    assert "5 minutes" in sms_text("possession", "012345", 5, "en")


def test_error_codes_are_stable() -> None:
    assert [e.code for e in (OtpInvalid, OtpExpired, OtpAttemptsExceeded, OtpUndeliverable)] == [
        "OTP_INVALID",
        "OTP_EXPIRED",
        "OTP_ATTEMPTS_EXCEEDED",
        "OTP_UNDELIVERABLE",
    ]
    limited = OtpRateLimited(42)
    assert (limited.code, limited.http_status, limited.details) == (
        "OTP_RATE_LIMITED",
        429,
        {"retry_after": 42},
    )
