from __future__ import annotations

import pytest

from realname.errors import RealnameError
from realname.identity import (
    BankCardInvalid,
    IdentityError,
    IdNumberInvalid,
    NameInvalid,
    PhoneInvalid,
)


@pytest.mark.parametrize(
    ("error", "code", "key", "value"),
    [
        (IdNumberInvalid("checksum"), "ID_NUMBER_INVALID", "part", "checksum"),
        (NameInvalid("digits"), "NAME_INVALID", "reason", "digits"),
        (PhoneInvalid("not_mobile"), "PHONE_INVALID", "reason", "not_mobile"),
        (BankCardInvalid("unknown_issuer"), "BANK_CARD_INVALID", "reason", "unknown_issuer"),
    ],
)
def test_error_carries_stable_code_and_detail(
    error: IdentityError, code: str, key: str, value: str
) -> None:
    assert isinstance(error, RealnameError)
    assert isinstance(error, ValueError)
    assert error.code == code
    assert error.http_status == 422
    assert error.details == {key: value}
    assert error.detail == value
    assert error.diagnostics().startswith(code + ": ")


@pytest.mark.parametrize("cls", [IdNumberInvalid, NameInvalid, PhoneInvalid, BankCardInvalid])
def test_every_detail_has_its_own_plain_message(cls: type[IdentityError]) -> None:
    messages = list(cls.messages.values())
    assert messages
    assert len(set(messages)) == len(messages)
    for detail, message in cls.messages.items():
        assert cls(detail).message == message
        assert message != cls.default_message


def test_part_and_reason_properties() -> None:
    assert IdNumberInvalid("region").part == "region"
    assert NameInvalid("empty").reason == "empty"
    assert PhoneInvalid("not_mainland").reason == "not_mainland"
    assert BankCardInvalid("length").reason == "length"
