from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from realname.identity import NameInvalid, name

from .conftest import leaks

DOT = "\u00b7"


#: The separators users are known to type: ASCII and full-width full stops, bullets,
#: katakana and hangul middle dots, the hyphenation point, dot and bullet operators,
#: the Greek ano teleia and the ideographic full stop.
TYPED_SEPARATORS = [
    "\u002e",
    "\u00b7",
    "\u0387",
    "\u2022",
    "\u2027",
    "\u2219",
    "\u22c5",
    "\u3002",
    "\u30fb",
    "\u318d",
    "\uff0e",
    "\uff65",
]


def test_typed_separators_are_all_known() -> None:
    assert set(TYPED_SEPARATORS) <= name.SEPARATORS


@pytest.mark.parametrize("separator", sorted(name.SEPARATORS))
def test_every_separator_becomes_the_middle_dot(separator: str) -> None:
    assert name.normalise(f"阿依古丽{separator}买买提") == f"阿依古丽{DOT}买买提"
    assert name.validate(f"阿依古丽{separator}买买提") == f"阿依古丽{DOT}买买提"


@pytest.mark.parametrize(
    ("written", "normalised"),
    [
        (" 王 小明 ", "王小明"),
        ("王\u3000小明", "王小明"),  # ideographic space
        ("王\u200b小明", "王小明"),  # zero-width space from a paste
        ("·阿依古丽··买买提·", f"阿依古丽{DOT}买买提"),
        ("阿依古丽 . • 买买提", f"阿依古丽{DOT}买买提"),
        ("\u2f00\u2f08", "一人"),  # Kangxi radicals are folded by NFKC
        ("\uf900", "\u8c48"),  # a compatibility ideograph
    ],
)
def test_normalise(written: str, normalised: str) -> None:
    assert name.normalise(written) == normalised


@pytest.mark.parametrize(
    "valid",
    ["王", "王小明", "欧阳小明", f"阿依古丽{DOT}买买提", "𠀀明", "\U00031350明", "張學友"],
)
def test_valid_names(valid: str) -> None:
    assert name.validate(valid) == valid
    assert name.is_valid(valid)


@pytest.mark.parametrize(
    ("invalid", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("··", "empty"),
        ("王" * 31, "too_long"),
        ("王小明2", "digits"),
        ("王小明２", "digits"),
        ("王〇", "digits"),
        ("王小明!", "forbidden_character"),
        ("王-明", "forbidden_character"),
        ("王小明😀", "forbidden_character"),
        ("王\u0301明", "forbidden_character"),  # a combining accent
        ("王\x07明", "control_character"),
        ("王\ue000明", "control_character"),  # private use
        ("王A明", "mixed_script"),
        ("王ming", "mixed_script"),
        ("王あ", "mixed_script"),
        ("John Smith", "latin_script"),
        ("ＪＯＨＮ", "latin_script"),
        ("Иван", "non_han_script"),
        ("김민수", "non_han_script"),
    ],
)
def test_invalid_names(invalid: str, reason: str) -> None:
    with pytest.raises(NameInvalid) as info:
        name.validate(invalid)
    assert info.value.reason == reason
    assert info.value.code == "NAME_INVALID"
    assert not leaks(info.value.message, invalid)
    assert not invalid.strip() or invalid not in info.value.message
    assert not name.is_valid(invalid)


def test_thirty_characters_are_allowed() -> None:
    assert name.is_valid("王" * 30)
    assert name.is_valid("阿" * 14 + DOT + "买" * 15)


def test_traditional_name_variants() -> None:
    assert name.variants("張學友") == ["张学友"]
    assert name.variants("鄧麗君") == ["邓丽君"]


def test_regional_conversions_are_included_when_they_differ() -> None:
    # "著" is simplified by t2s as 著 but by tw2s as 着 (Taiwan's usage).
    assert name.variants("王著") == ["王着"]


def test_variants_of_a_separator_and_space_typed_name() -> None:
    assert name.variants("阿依古丽.买买提") == [f"阿依古丽{DOT}买买提"]
    assert name.variants("阿依古丽 买买提") == ["阿依古丽买买提", f"阿依古丽{DOT}买买提"]
    assert name.variants(" 張 學友") == ["張學友", "张学友", f"張{DOT}學友", f"张{DOT}学友"]


def test_variants_exclude_the_input_and_invalid_candidates() -> None:
    assert name.variants("王小明") == []
    assert name.variants("John") == []
    assert name.variants("") == []


han = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)
separators = st.sampled_from([*sorted(name.SEPARATORS), " ", "\u3000"])
name_like = st.lists(st.one_of(han, separators), max_size=40).map("".join)


@given(name_like)
def test_normalise_is_idempotent(text: str) -> None:
    once = name.normalise(text)
    assert name.normalise(once) == once


@given(st.text(max_size=40))
def test_normalise_is_idempotent_on_any_text(text: str) -> None:
    once = name.normalise(text)
    assert name.normalise(once) == once


@given(name_like)
def test_normalised_names_have_no_spaces_or_stray_separators(text: str) -> None:
    result = name.normalise(text)
    assert " " not in result
    assert not result.startswith(DOT)
    assert not result.endswith(DOT)
    assert DOT * 2 not in result
    assert not (set(result) & (name.SEPARATORS - {DOT}))


@given(st.lists(han, min_size=1, max_size=30).map("".join))
def test_han_names_are_valid(text: str) -> None:
    assert name.validate(text) == text


@given(name_like)
def test_variants_are_valid_unique_and_not_the_input(text: str) -> None:
    found = name.variants(text)
    assert len(found) == len(set(found))
    assert text not in found
    assert all(name.is_valid(v) for v in found)
