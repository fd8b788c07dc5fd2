from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum import luhn

from realname.identity import BankCardInvalid, CardIssuer, bank_card

from .conftest import card_numbers, leaks


def with_check_digit(body: str) -> str:
    return body + luhn.calc_check_digit(body)


@pytest.mark.parametrize(
    ("number", "bank_code", "card_type"),
    [
        ("6222021234567890128", "ICBC", "debit"),
        ("6228481234567890128", "ABC", "debit"),
        ("6217001234567890122", "CCB", "debit"),
        ("4367421234567890129", "CCB", "debit"),
        ("6216611234567890126", "BOC", "debit"),
        ("6225881234567898", "CMB", "debit"),
        ("6259081234567894", "BOC", "credit"),
        (with_check_digit("622575123456789"), "CMB", "credit"),
        (with_check_digit("622262123456789012"), "COMM", "debit"),
        (with_check_digit("621799123456789012"), "PSBC", "debit"),
        (with_check_digit("622690123456789"), "CITIC", "debit"),
        (with_check_digit("622660123456789"), "CEB", "debit"),
        (with_check_digit("622622123456789"), "CMBC", "debit"),
        (with_check_digit("62290812345678901"), "CIB", "debit"),
        (with_check_digit("622521123456789"), "SPDB", "debit"),
        (with_check_digit("623058123456789012"), "SPABANK", "debit"),
        (with_check_digit("622630123456789"), "HXBANK", "debit"),
        (with_check_digit("622568123456789012"), "GDB", "debit"),
        (with_check_digit("625071123456789"), "GDB", "credit"),
        (with_check_digit("622254123456789"), "COMM", "credit"),  # semi-credit card
    ],
)
def test_issuer_lookup(number: str, bank_code: str, card_type: str) -> None:
    issuer = bank_card.get_issuer(number)
    assert isinstance(issuer, CardIssuer)
    assert (issuer.bank_code, issuer.card_type) == (bank_code, card_type)
    assert issuer.name_zh
    assert issuer.name_en
    assert bank_card.validate(number) == number


def test_issuer_names() -> None:
    issuer = bank_card.get_issuer("6222021234567890128")
    assert issuer == CardIssuer(
        "ICBC", "中国工商银行", "Industrial and Commercial Bank of China", "debit"
    )


def test_longest_prefix_wins() -> None:
    # 621056801 (BOCOM) is a nine-digit BIN inside the UnionPay catch-all 62.
    assert bank_card.get_issuer(with_check_digit("621056801234567890")).bank_code == "COMM"
    assert bank_card.get_issuer(with_check_digit("621056901234567890")).bank_code == "UNIONPAY"


def test_unlisted_unionpay_card_has_the_generic_issuer() -> None:
    issuer = bank_card.get_issuer(with_check_digit("621999123456789012"))
    assert issuer.bank_code == "UNIONPAY"
    assert issuer.card_type == "unknown"


@pytest.mark.parametrize(
    "number",
    [
        with_check_digit("411111111111111"),  # a Visa test card from no Chinese bank
        with_check_digit("555555555555444"),
        with_check_digit("300000000000000"),
    ],
)
def test_unknown_issuer(number: str) -> None:
    assert luhn.is_valid(number)
    with pytest.raises(BankCardInvalid) as info:
        bank_card.get_issuer(number)
    assert info.value.reason == "unknown_issuer"
    assert not bank_card.is_valid(number)


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("", "length"),
        ("62220212345", "length"),
        ("62220212345678901234", "length"),
        ("6222 0212 3456 7890 12A", "format"),
        ("6222.0212.3456.7890", "format"),
        ("6222021234567890127", "checksum"),
        ("6222021234567890129", "checksum"),
    ],
)
def test_invalid_cards(number: str, reason: str) -> None:
    with pytest.raises(BankCardInvalid) as info:
        bank_card.validate(number)
    assert info.value.reason == reason
    assert info.value.code == "BANK_CARD_INVALID"
    assert not leaks(info.value.message, bank_card.compact(number))


@pytest.mark.parametrize(
    "written",
    [
        "6222 0212 3456 7890 128",
        "6222-0212-3456-7890-128",
        "６２２２０２１２３４５６７８９０１２８",
    ],
)
def test_separators_and_full_width_digits(written: str) -> None:
    assert bank_card.validate(written) == "6222021234567890128"


def test_length_picks_between_rows_sharing_a_bin() -> None:
    # 621260 is a Ping An credit BIN for 16-digit cards in the source table.
    assert bank_card.get_issuer(with_check_digit("621260123456789")).bank_code == "SPABANK"


@given(card_numbers())
def test_table_cards_validate(number: str) -> None:
    assert bank_card.validate(number) == number
    assert bank_card.get_issuer(number).bank_code != "UNIONPAY" or number.startswith("62")


@given(card_numbers(), st.integers(min_value=0, max_value=18), st.integers(1, 9))
def test_luhn_catches_every_single_digit_change(number: str, position: int, delta: int) -> None:
    position %= len(number)
    changed = number[:position] + str((int(number[position]) + delta) % 10) + number[position + 1 :]
    with pytest.raises(BankCardInvalid) as info:
        bank_card.validate(changed)
    assert info.value.reason in {"checksum", "unknown_issuer"}
