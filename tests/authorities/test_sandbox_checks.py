"""The sandbox answers every check with the real service's code for each situation."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from realname.authorities.protocol import (
    BankCardOutcome,
    CardStatus,
    Carrier,
    CarrierLookupOutcome,
    CarrierMismatch,
    CarrierThreeElementOutcome,
    Element,
    IdTwoElementOutcome,
    IdValidityOutcome,
    PhoneRecycledOutcome,
    PhoneStatusOutcome,
    PhoneTenureOutcome,
    Provider,
    TenureBucket,
)
from realname.authorities.sandbox import SandboxConfig
from tests.authorities.support import (
    CARD,
    JIANGUO,
    MAIMAITI,
    PHONE_A,
    PHONE_B,
    XIAOMING,
    XIUYING,
    provider,
)

pytestmark = pytest.mark.anyio

A_NAME, A_ID = XIAOMING["name"], XIAOMING["id_number"]
H_NAME, H_ID = JIANGUO["name"], JIANGUO["id_number"]


def test_the_sandbox_is_a_provider() -> None:
    assert isinstance(provider({"citizens": [XIAOMING]}), Provider)


# ----------------------------------------------------------------- ID two-element


@pytest.mark.parametrize(
    ("name", "id_number", "code", "outcome", "element"),
    [
        (A_NAME, A_ID, "0", IdTwoElementOutcome.CONSISTENT, None),
        ("王晓明", A_ID, "-1", IdTwoElementOutcome.INCONSISTENT, None),
        (
            "王小明",
            "110105199003071238",
            "-2",
            IdTwoElementOutcome.INVALID_INPUT,
            Element.ID_NUMBER,
        ),
        ("王小明", "110105900307123", "-2", IdTwoElementOutcome.INVALID_INPUT, Element.ID_NUMBER),
        ("Wang Xiaoming", A_ID, "-3", IdTwoElementOutcome.INVALID_INPUT, Element.NAME),
        ("孙丽", "440305198811203167", "-5", IdTwoElementOutcome.NO_RECORD, None),
        # A lower-case x is the same character as X.
        (H_NAME, H_ID.lower(), "0", IdTwoElementOutcome.CONSISTENT, None),
        # The registry compares names exactly; variants are the platform's business.
        ("买买提•艾力", MAIMAITI["id_number"], "-1", IdTwoElementOutcome.INCONSISTENT, None),
    ],
)
async def test_id_two_element(
    name: str, id_number: str, code: str, outcome: IdTwoElementOutcome, element: Element | None
) -> None:
    answer = await provider({"citizens": [XIAOMING, JIANGUO, MAIMAITI]}).id_two_element(
        name, id_number
    )
    assert (answer.code, answer.outcome, answer.invalid_element) == (code, outcome, element)
    assert answer.billable is (code in {"0", "-1"})
    assert answer.cost_fen == (15 if answer.billable else 0)
    assert answer.provider == "sandbox"
    assert answer.message
    assert len(answer.request_id) == 36


# -------------------------------------------------------------------- ID validity


async def test_id_validity_follows_the_clock() -> None:
    registry = {"citizens": [XIUYING]}  # valid until 2025-04-12
    before = await provider(registry, today=date(2025, 4, 12)).id_validity(
        XIUYING["name"], XIUYING["id_number"]
    )
    after = await provider(registry, today=date(2025, 4, 13)).id_validity(
        XIUYING["name"], XIUYING["id_number"]
    )
    assert (before.code, before.outcome) == ("0", IdValidityOutcome.VALID)
    assert (after.code, after.outcome) == ("0", IdValidityOutcome.EXPIRED)
    assert after.billable


async def test_a_long_term_card_never_expires() -> None:
    answer = await provider({"citizens": [MAIMAITI]}, today=date(2090, 1, 1)).id_validity(
        MAIMAITI["name"], MAIMAITI["id_number"]
    )
    assert answer.outcome is IdValidityOutcome.VALID


@pytest.mark.parametrize(
    ("kwargs", "code", "outcome"),
    [
        ({"valid_until": date(2031, 5, 1)}, "0", IdValidityOutcome.VALID),
        ({"valid_until": date(2031, 5, 2)}, "-1", IdValidityOutcome.INCONSISTENT),
        (
            {"valid_from": date(2011, 5, 1), "valid_until": None},
            "-1",
            IdValidityOutcome.INCONSISTENT,
        ),
        (
            {"valid_from": date(2031, 5, 1), "valid_until": date(2021, 5, 1)},
            "-4",
            IdValidityOutcome.INVALID_INPUT,
        ),
    ],
)
async def test_id_validity_with_the_dates_printed_on_the_card(
    kwargs: dict[str, date | None], code: str, outcome: IdValidityOutcome
) -> None:
    answer = await provider({"citizens": [XIAOMING]}).id_validity(A_NAME, A_ID, **kwargs)
    assert (answer.code, answer.outcome) == (code, outcome)


@pytest.mark.parametrize(
    ("name", "id_number", "code", "outcome"),
    [
        ("王晓明", A_ID, "-1", IdValidityOutcome.INCONSISTENT),
        (A_NAME, "110105199003071238", "-2", IdValidityOutcome.INVALID_INPUT),
        ("王小明1", A_ID, "-3", IdValidityOutcome.INVALID_INPUT),
        ("孙丽", "440305198811203167", "-7", IdValidityOutcome.NO_RECORD),
    ],
)
async def test_id_validity_failures(
    name: str, id_number: str, code: str, outcome: IdValidityOutcome
) -> None:
    answer = await provider({"citizens": [XIAOMING]}).id_validity(name, id_number)
    assert (answer.code, answer.outcome) == (code, outcome)
    assert answer.billable is (code == "-1")


# ---------------------------------------------------------- carrier three-element


def _phones(owner: str | None, status: str = "normal", **extra: object) -> dict[str, Any]:
    return {
        "citizens": [XIAOMING, JIANGUO],
        "phones": [
            {
                "number": PHONE_A,
                "carrier": "cmcc",
                "owner": owner,
                "status": status,
                "owner_since": "2016-03-01",
                **extra,
            }
        ],
    }


@pytest.mark.parametrize(
    ("registry", "name", "id_number", "code", "outcome", "mismatch"),
    [
        (_phones("a"), A_NAME, A_ID, "0", CarrierThreeElementOutcome.CONSISTENT, None),
        (_phones("a", "suspended"), A_NAME, A_ID, "0", CarrierThreeElementOutcome.CONSISTENT, None),
        (
            _phones("a"),
            "王晓明",
            A_ID,
            "-4",
            CarrierThreeElementOutcome.INCONSISTENT,
            CarrierMismatch.NAME,
        ),
        (
            _phones("a"),
            A_NAME,
            H_ID,
            "-4",
            CarrierThreeElementOutcome.INCONSISTENT,
            CarrierMismatch.ID_NUMBER,
        ),
        (
            _phones("h"),
            A_NAME,
            A_ID,
            "-4",
            CarrierThreeElementOutcome.INCONSISTENT,
            CarrierMismatch.NAME_AND_ID_NUMBER,
        ),
        (_phones(None), A_NAME, A_ID, "-9", CarrierThreeElementOutcome.NO_RECORD, None),
        (_phones("a", "cancelled"), A_NAME, A_ID, "-9", CarrierThreeElementOutcome.NO_RECORD, None),
        (
            _phones("a", "nonexistent"),
            A_NAME,
            A_ID,
            "-9",
            CarrierThreeElementOutcome.NO_RECORD,
            None,
        ),
        ({"citizens": [XIAOMING]}, A_NAME, A_ID, "-9", CarrierThreeElementOutcome.NO_RECORD, None),
    ],
)
async def test_carrier_three_element(
    registry: dict[str, object],
    name: str,
    id_number: str,
    code: str,
    outcome: CarrierThreeElementOutcome,
    mismatch: CarrierMismatch | None,
) -> None:
    answer = await provider(registry).carrier_three_element(name, id_number, PHONE_A)
    assert (answer.code, answer.outcome, answer.mismatch) == (code, outcome, mismatch)
    assert answer.billable is (code in {"0", "-4"})
    assert answer.cost_fen == (30 if answer.billable else 0)


@pytest.mark.parametrize(
    ("name", "id_number", "phone", "code", "element"),
    [
        (A_NAME, A_ID, "1391234567", "-6", Element.PHONE),
        (A_NAME, A_ID, "23912345678", "-6", Element.PHONE),
        (A_NAME, "110105199003071238", PHONE_A, "-7", Element.ID_NUMBER),
        ("王小明!", A_ID, PHONE_A, "-8", Element.NAME),
    ],
)
async def test_carrier_three_element_rejects_malformed_input(
    name: str, id_number: str, phone: str, code: str, element: Element
) -> None:
    answer = await provider(_phones("a")).carrier_three_element(name, id_number, phone)
    assert (answer.code, answer.outcome, answer.invalid_element) == (
        code,
        CarrierThreeElementOutcome.INVALID_INPUT,
        element,
    )
    assert not answer.billable
    assert answer.cost_fen == 0


async def test_virtual_operator_blocks_are_not_supported() -> None:
    answer = await provider(_phones("a")).carrier_three_element(A_NAME, A_ID, "17012345678")
    assert (answer.code, answer.outcome) == ("-13", CarrierThreeElementOutcome.UNSUPPORTED_SEGMENT)


async def test_a_ported_number_is_found_only_at_the_carrier_serving_it() -> None:
    registry = _phones("a", ported_from="cmcc")
    registry["phones"][0]["carrier"] = "ctcc"
    sandbox = provider(registry)
    by_block = await sandbox.carrier_three_element(A_NAME, A_ID, PHONE_A)
    assert (by_block.code, by_block.outcome) == ("-9", CarrierThreeElementOutcome.NO_RECORD)
    routed = await sandbox.carrier_three_element(A_NAME, A_ID, PHONE_A, carrier=Carrier.CTCC)
    assert routed.carrier is Carrier.CTCC
    assert routed.message == "三要素信息一致"


# ----------------------------------------------------------------------- SIM swap


async def test_sim_swap_reports_a_recent_replacement_by_the_same_holder() -> None:
    registry = _phones("a")
    registry["phones"][0]["sim_changed"] = "2026-11-20"
    sandbox = provider(registry)
    recent = await sandbox.sim_swap(PHONE_A, 30)
    assert (recent.code, recent.swapped, recent.billable) == ("200", True, True)
    long_ago = await sandbox.sim_swap(PHONE_A, 5)
    assert (long_ago.code, long_ago.swapped) == ("200", False)
    unknown = await sandbox.sim_swap("13800000000", 30)
    assert (unknown.code, unknown.billable) == ("404", False)


async def test_a_sim_swap_does_not_restart_network_tenure() -> None:
    registry = _phones("a")
    registry["phones"][0]["sim_changed"] = "2026-11-20"
    answer = await provider(registry).phone_tenure(PHONE_A)
    assert answer.min_months is not None
    assert answer.min_months >= 24


# ------------------------------------------------------------------- phone status


@pytest.mark.parametrize(
    ("status", "status_code", "outcome"),
    [
        ("normal", 0, PhoneStatusOutcome.NORMAL),
        ("suspended", 1, PhoneStatusOutcome.SUSPENDED),
        ("cancelled", 2, PhoneStatusOutcome.CANCELLED),
        ("nonexistent", 4, PhoneStatusOutcome.NOT_IN_NETWORK),
    ],
)
async def test_phone_status(status: str, status_code: int, outcome: PhoneStatusOutcome) -> None:
    answer = await provider(_phones("a", status)).phone_status(PHONE_A)
    assert (answer.code, answer.status_code, answer.outcome) == ("0", status_code, outcome)
    assert answer.billable
    assert answer.cost_fen == 10


async def test_phone_status_of_unknown_and_malformed_numbers() -> None:
    sandbox = provider(_phones("a"))
    unknown = await sandbox.phone_status(PHONE_B)
    assert unknown.outcome is PhoneStatusOutcome.NOT_IN_NETWORK
    malformed = await sandbox.phone_status("139")
    assert (malformed.code, malformed.outcome, malformed.billable) == (
        "-2",
        PhoneStatusOutcome.INVALID_INPUT,
        False,
    )


# -------------------------------------------------------------------- tenure


@pytest.mark.parametrize(
    ("owner_since", "sim_changed", "bucket"),
    [
        ("2026-11-30", None, TenureBucket.UNDER_3),
        ("2026-09-01", None, TenureBucket.FROM_3_TO_6),
        ("2026-09-02", None, TenureBucket.UNDER_3),
        ("2026-06-01", None, TenureBucket.FROM_6_TO_12),
        ("2025-12-01", None, TenureBucket.FROM_12_TO_24),
        ("2024-12-02", None, TenureBucket.FROM_12_TO_24),
        ("2024-12-01", None, TenureBucket.OVER_24),
        # Tenure measures the holder, not the SIM card: a replacement changes nothing.
        ("2016-03-01", "2026-11-27", TenureBucket.OVER_24),
        ("2026-06-01", "2026-11-27", TenureBucket.FROM_6_TO_12),
    ],
)
async def test_phone_tenure_buckets(
    owner_since: str, sim_changed: str | None, bucket: TenureBucket
) -> None:
    registry = _phones("a", sim_changed=sim_changed)
    registry["phones"][0]["owner_since"] = owner_since
    answer = await provider(registry).phone_tenure(PHONE_A)
    assert (answer.code, answer.outcome, answer.bucket) == ("0", PhoneTenureOutcome.FOUND, bucket)
    assert (answer.min_months, answer.max_months) == (bucket.min_months, bucket.max_months)


async def test_phone_tenure_failures() -> None:
    gone = await provider(_phones("a", "cancelled")).phone_tenure(PHONE_A)
    assert (gone.code, gone.outcome, gone.billable) == (
        "-2",
        PhoneTenureOutcome.NUMBER_NOT_FOUND,
        True,
    )
    registry = _phones("a")
    del registry["phones"][0]["owner_since"]
    unknown = await provider(registry).phone_tenure(PHONE_A)
    assert (unknown.code, unknown.outcome) == ("-3", PhoneTenureOutcome.TENURE_UNKNOWN)
    malformed = await provider(registry).phone_tenure("abc")
    assert (malformed.code, malformed.outcome, malformed.billable) == (
        "-1",
        PhoneTenureOutcome.INVALID_INPUT,
        False,
    )


# ------------------------------------------------------------------ carrier lookup


async def test_carrier_lookup() -> None:
    registry = _phones("a", ported_from="cmcc")
    registry["phones"][0]["carrier"] = "ctcc"
    registry["phones"].append(
        {"number": PHONE_B, "carrier": "cucc", "owner": "h", "owner_since": "2010-01-01"}
    )
    sandbox = provider(registry)
    ported = await sandbox.carrier_lookup(PHONE_A)
    assert (ported.code, ported.outcome, ported.carrier, ported.ported) == (
        "OK",
        CarrierLookupOutcome.FOUND,
        Carrier.CTCC,
        True,
    )
    home = await sandbox.carrier_lookup(PHONE_B)
    assert (home.carrier, home.ported) == (Carrier.CUCC, False)
    unknown = await sandbox.carrier_lookup("13700001111")
    assert (unknown.code, unknown.outcome, unknown.carrier) == (
        "isp.NUMBER_NON_EXISTENT",
        CarrierLookupOutcome.NOT_FOUND,
        None,
    )
    assert not unknown.billable
    malformed = await sandbox.carrier_lookup("0")
    assert malformed.outcome is CarrierLookupOutcome.INVALID_INPUT
    assert ported.request_id.isupper() or "-" in ported.request_id


# ------------------------------------------------------------------ re-issued numbers


@pytest.mark.parametrize(
    ("owner_since", "registered_on", "code", "outcome"),
    [
        ("2026-09-15", date(2024, 1, 10), "102", PhoneRecycledOutcome.RECYCLED),
        ("2026-09-15", date(2026, 9, 15), "101", PhoneRecycledOutcome.NOT_RECYCLED),
        ("2016-03-01", date(2024, 1, 10), "101", PhoneRecycledOutcome.NOT_RECYCLED),
        ("2026-11-28", date(2024, 1, 10), "103", PhoneRecycledOutcome.NOT_SYNCED),
    ],
)
async def test_phone_recycled(
    owner_since: str, registered_on: date, code: str, outcome: PhoneRecycledOutcome
) -> None:
    registry = _phones("b")
    registry["citizens"] = [XIAOMING, XIUYING]
    registry["phones"][0]["owner_since"] = owner_since
    answer = await provider(registry).phone_recycled(PHONE_A, registered_on)
    assert (answer.code, answer.outcome, answer.biz_code) == (code, outcome, "1")
    assert answer.billable
    assert answer.cost_fen == 10
    # Alibaba writes request ids in upper case.
    assert answer.request_id == answer.request_id.upper()


async def test_phone_recycled_without_a_result() -> None:
    sandbox = provider(_phones("a", "cancelled"))
    answer = await sandbox.phone_recycled(PHONE_A, date(2020, 1, 1))
    assert (answer.code, answer.outcome, answer.biz_code, answer.billable) == (
        "301",
        PhoneRecycledOutcome.NO_RESULT,
        "3",
        False,
    )
    malformed = await sandbox.phone_recycled("12", date(2020, 1, 1))
    assert (malformed.code, malformed.outcome) == ("401", PhoneRecycledOutcome.INVALID_INPUT)


async def test_the_sync_lag_is_configurable() -> None:
    registry = _phones("a")
    registry["phones"][0]["owner_since"] = "2026-11-28"
    sandbox = provider(registry, config=SandboxConfig(recycled_sync_lag_days=0))
    answer = await sandbox.phone_recycled(PHONE_A, date(2024, 1, 1))
    assert answer.outcome is PhoneRecycledOutcome.RECYCLED


# -------------------------------------------------------------- bank-card four-element


def _card(status: str = "normal", reserved: str = PHONE_A) -> dict[str, Any]:
    return {
        "citizens": [XIAOMING, JIANGUO],
        "bank_cards": [
            {"number": CARD, "owner": "a", "reserved_phone": reserved, "status": status}
        ],
    }


@pytest.mark.parametrize(
    ("status", "code", "card_status"),
    [
        ("lost", "-13", CardStatus.LOST),
        ("expired", "-14", CardStatus.EXPIRED),
        ("frozen", "-15", CardStatus.RESTRICTED),
        ("dormant", "-11", CardStatus.DORMANT),
        ("no_cardless", "-7", CardStatus.NO_CARDLESS),
    ],
)
async def test_card_states(status: str, code: str, card_status: CardStatus) -> None:
    answer = await provider(_card(status)).bank_card_four_element(A_NAME, A_ID, CARD, PHONE_A)
    assert (answer.code, answer.outcome, answer.card_status) == (
        code,
        BankCardOutcome.CARD_UNUSABLE,
        card_status,
    )
    assert answer.billable
    assert answer.cost_fen == 40


@pytest.mark.parametrize(
    ("name", "id_number", "card", "phone", "code", "outcome"),
    [
        (A_NAME, A_ID, CARD, PHONE_A, "0", BankCardOutcome.CONSISTENT),
        (A_NAME, A_ID, CARD, PHONE_B, "-1", BankCardOutcome.INCONSISTENT),
        (H_NAME, H_ID, CARD, PHONE_A, "-6", BankCardOutcome.HOLDER_MISMATCH),
        ("王晓明", A_ID, CARD, PHONE_A, "-6", BankCardOutcome.HOLDER_MISMATCH),
        (A_NAME, A_ID, "6217001234567810005", PHONE_A, "-9", BankCardOutcome.CARD_UNUSABLE),
        (A_NAME, A_ID, "7000000000000000003", PHONE_A, "-10", BankCardOutcome.CARD_UNUSABLE),
        ("王小明1", A_ID, CARD, PHONE_A, "-2", BankCardOutcome.INVALID_INPUT),
        (A_NAME, "110105199003071238", CARD, PHONE_A, "-3", BankCardOutcome.INVALID_INPUT),
        (A_NAME, A_ID, "6222020200112230005", PHONE_A, "-4", BankCardOutcome.INVALID_INPUT),
        (A_NAME, A_ID, "62220202", PHONE_A, "-4", BankCardOutcome.INVALID_INPUT),
        (A_NAME, A_ID, CARD, "139", "-5", BankCardOutcome.INVALID_INPUT),
    ],
)
async def test_bank_card_four_element(
    name: str, id_number: str, card: str, phone: str, code: str, outcome: BankCardOutcome
) -> None:
    answer = await provider(_card()).bank_card_four_element(name, id_number, card, phone)
    assert (answer.code, answer.outcome) == (code, outcome)
    assert answer.billable is (code not in {"-2", "-3", "-4", "-5"})


async def test_ledger_totals_what_was_billed() -> None:
    sandbox = provider(_phones("a"))
    await sandbox.carrier_three_element(A_NAME, A_ID, PHONE_A)  # 30 fen
    await sandbox.carrier_three_element(A_NAME, A_ID, "1")  # invalid: free
    await sandbox.phone_status(PHONE_A)  # 10 fen
    assert sandbox.ledger.total_fen == 40
    usage = sandbox.ledger.usage
    assert [(u.calls, u.answered, u.billable) for u in usage.values()] == [(2, 2, 1), (1, 1, 1)]


def test_a_latency_model_without_spread_answers_its_median_every_time() -> None:
    """The benchmarks' constant latency: exactly the median, and no random draw taken
    from the generator the sandbox's other answers come from."""
    import random

    from realname.authorities.sandbox.config import LatencyModel

    rng = random.Random(7)
    state = rng.getstate()
    assert [LatencyModel(200, 0).sample(rng) for _ in range(3)] == [200, 200, 200]
    assert rng.getstate() == state
    spread = [LatencyModel(200, 0.35).sample(rng) for _ in range(50)]
    assert len(set(spread)) == 50
    assert min(spread) < 200 < max(spread)
