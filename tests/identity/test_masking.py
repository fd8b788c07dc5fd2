from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from realname.identity import (
    bank_card,
    id_number,
    mask_bank_card,
    mask_id_number,
    mask_name,
    mask_phone,
    masking,
    name,
    phone,
)

from .conftest import card_numbers, id_numbers, mobile_numbers

DOT = "\u00b7"


def revealed(masked: str) -> list[int]:
    return [i for i, char in enumerate(masked) if char != "*"]


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("王小明", "王*明"),
        ("王明", "王*"),
        ("欧阳小明", "欧**明"),
        ("王", "*"),
        (f"阿依古丽{DOT}买买提", f"阿***{DOT}**提"),
        ("阿依古丽.买买提", f"阿***{DOT}**提"),
        (f"阿{DOT}布", f"阿{DOT}*"),
        (f"阿{DOT}布{DOT}都", f"阿{DOT}*{DOT}都"),
        ("John Smith", "*********"),
        ("王小明1", "****"),
        ("", ""),
    ],
)
def test_mask_name(value: str, masked: str) -> None:
    assert mask_name(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("110105194912310021", "110105********0021"),
        ("11010519491231002x", "110105********002X"),
        ("110105491231002", "110105*****1002"),
        ("1101051949", "**********"),
        ("11010519491231002Y", "******************"),
        ("", ""),
    ],
)
def test_mask_id_number(value: str, masked: str) -> None:
    assert mask_id_number(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("13912345678", "139****5678"),
        ("+86 139 1234 5678", "139****5678"),
        ("0086-139-1234-5678", "139****5678"),
        ("010-12345678", "***********"),
        ("+852 9123 4567", "************"),
        ("139-CALL-5678", "***********"),
        ("12345", "*****"),
    ],
)
def test_mask_phone(value: str, masked: str) -> None:
    assert mask_phone(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("6225881234567898", "6225 **** **** 7898"),
        ("6222 0212 3456 7890 128", "6222 **** **** ***0 128"),
        ("622202123456", "6222 **** 3456"),
        ("62220212345", "***********"),
        ("6222-0212-ABCD-7890", "****************"),
    ],
)
def test_mask_bank_card(value: str, masked: str) -> None:
    assert mask_bank_card(value) == masked


def test_masking_module_is_the_modules_own_masks() -> None:
    assert masking.mask_name is name.mask
    assert masking.mask_id_number is id_number.mask
    assert masking.mask_phone is phone.mask
    assert masking.mask_bank_card is bank_card.mask


@given(id_numbers())
def test_id_mask_reveals_only_first_six_and_last_four(number: str) -> None:
    masked = mask_id_number(number)
    assert len(masked) == len(number)
    assert revealed(masked) == [*range(6), *range(len(number) - 4, len(number))]
    assert all(masked[i] == number[i] for i in revealed(masked))


@given(mobile_numbers())
def test_phone_mask_reveals_only_first_three_and_last_four(number: str) -> None:
    masked = mask_phone(number)
    assert len(masked) == len(number) == 11
    assert revealed(masked) == [0, 1, 2, 7, 8, 9, 10]
    assert all(masked[i] == number[i] for i in revealed(masked))


@given(card_numbers())
def test_card_mask_reveals_at_most_first_four_and_last_four(number: str) -> None:
    masked = mask_bank_card(number)
    digits = masked.replace(" ", "")
    assert len(digits) == len(number)
    shown = revealed(digits)
    assert len(shown) == 8
    assert all(i < 4 or i >= len(number) - 4 for i in shown)
    assert all(digits[i] == number[i] for i in shown)
    assert all(len(group) == 4 for group in masked.split(" ")[:-1])


names = st.lists(
    st.one_of(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), st.just(DOT)),
    min_size=1,
    max_size=30,
).map("".join)


@given(names)
def test_name_mask_reveals_at_most_first_and_last_character(value: str) -> None:
    normalised = name.normalise(value)
    masked = mask_name(value)
    assert len(masked) == len(normalised)
    letters = [i for i, char in enumerate(normalised) if char != DOT]
    shown = [i for i in revealed(masked) if masked[i] != DOT]
    allowed = {letters[0], letters[-1]} if len(letters) >= 3 else set(letters[:1])
    if len(letters) < 2:
        allowed = set()
    assert set(shown) <= allowed
    assert all(masked[i] == normalised[i] for i in shown)


@given(st.text(max_size=30))
def test_malformed_input_never_reveals_more_than_the_rule(text: str) -> None:
    # Whatever the input, at most as many characters as the rule allows survive.
    assert len(revealed(mask_id_number(text))) <= 10
    assert len(revealed(mask_phone(text))) <= 7
    assert len(revealed(mask_bank_card(text).replace(" ", ""))) <= 8
    assert len([c for c in mask_name(text) if c not in "*" + DOT]) <= 2
