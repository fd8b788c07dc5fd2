"""Answers carry what the real services document, never the registry behind them."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from realname.authorities.protocol import (
    Answer,
    BankCardAnswer,
    CarrierLookupAnswer,
    CarrierMismatch,
    CarrierThreeElementAnswer,
    PhoneRecycledAnswer,
)
from tests.authorities.support import CARD, JIANGUO, PHONE_A, XIAOMING, provider

pytestmark = pytest.mark.anyio

META = {"provider", "code", "message", "request_id", "billable", "cost_fen", "latency_ms"}

# The parent's registration: what a carrier must never hand out to someone else.
PARENT = {
    "citizens": [XIAOMING, JIANGUO],
    "phones": [{"number": PHONE_A, "carrier": "cmcc", "owner": "h", "owner_since": "2009-05-01"}],
    "bank_cards": [{"number": CARD, "owner": "h", "reserved_phone": "13700001111"}],
}
SECRETS = [
    JIANGUO["name"],
    JIANGUO["id_number"],
    "2009-05-01",
    "2009",
    "13700001111",
    "王建",
    "0101803X",
]


def _values(answer: Answer) -> str:
    return " ".join(str(getattr(answer, f.name)) for f in dataclasses.fields(answer))


def _assert_reveals_nothing(answer: Answer) -> None:
    text = _values(answer) + repr(answer)
    for secret in SECRETS:
        assert secret not in text, secret


async def test_a_mismatch_on_a_relatives_number_says_only_which_elements_differ() -> None:
    answer = await provider(PARENT).carrier_three_element(
        XIAOMING["name"], XIAOMING["id_number"], PHONE_A
    )
    assert isinstance(answer, CarrierThreeElementAnswer)
    assert (answer.code, answer.mismatch) == ("-4", CarrierMismatch.NAME_AND_ID_NUMBER)
    assert {f.name for f in dataclasses.fields(answer)} == META | {
        "outcome",
        "mismatch",
        "carrier",
        "invalid_element",
    }
    assert answer.message == "三要素信息不一致"
    _assert_reveals_nothing(answer)


async def test_a_card_answer_does_not_reveal_the_holder_or_the_reserved_phone() -> None:
    sandbox = provider(PARENT)
    for phone in (PHONE_A, "13700001111"):
        answer = await sandbox.bank_card_four_element(
            XIAOMING["name"], XIAOMING["id_number"], CARD, phone
        )
        assert isinstance(answer, BankCardAnswer)
        assert answer.code == "-6"
        _assert_reveals_nothing(answer)


async def test_phone_checks_reveal_no_owner_and_no_dates() -> None:
    sandbox = provider(PARENT)
    answers: list[Answer] = [
        await sandbox.phone_status(PHONE_A),
        await sandbox.phone_tenure(PHONE_A),
        await sandbox.carrier_lookup(PHONE_A),
        await sandbox.phone_recycled(PHONE_A, date(2024, 1, 1)),
    ]
    for answer in answers:
        _assert_reveals_nothing(answer)
    lookup, recycled = answers[2], answers[3]
    assert isinstance(lookup, CarrierLookupAnswer)
    assert isinstance(recycled, PhoneRecycledAnswer)
    assert {f.name for f in dataclasses.fields(lookup)} == META | {
        "outcome",
        "carrier",
        "ported",
        "invalid_element",
    }
    assert {f.name for f in dataclasses.fields(recycled)} == META | {
        "outcome",
        "biz_code",
        "invalid_element",
    }


async def test_answers_are_frozen() -> None:
    answer = await provider(PARENT).phone_status(PHONE_A)
    with pytest.raises(dataclasses.FrozenInstanceError):
        answer.code = "0"  # type: ignore[misc]


async def test_the_provider_module_builds_answers_without_ground_truth_columns() -> None:
    import inspect

    from realname.authorities.sandbox import provider as module

    source = inspect.getsource(module)
    assert "holder_id" not in source
    assert "previous_owner_id" not in source
