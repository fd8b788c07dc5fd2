from __future__ import annotations

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from realname.identity import IdNumberInvalid, id_number

from .conftest import TODAY, birth_dates, id_numbers, leaks, regions, sequences

# GB 11643-1999's own example: 北京市朝阳区, born 1949-12-31, sequence 002 (female).
GB_EXAMPLE = "11010519491231002X"


def fails_with(number: str, part: str, today: datetime.date = TODAY) -> IdNumberInvalid:
    with pytest.raises(IdNumberInvalid) as info:
        id_number.validate(number, today=today)
    assert info.value.part == part
    assert info.value.code == "ID_NUMBER_INVALID"
    assert not leaks(info.value.message, id_number.compact(number))
    assert not id_number.is_valid(number, today=today)
    return info.value


def test_known_valid_number() -> None:
    assert id_number.validate(GB_EXAMPLE, today=TODAY) == GB_EXAMPLE
    assert id_number.is_valid(GB_EXAMPLE, today=TODAY)
    assert id_number.get_birth_date(GB_EXAMPLE) == datetime.date(1949, 12, 31)
    assert id_number.get_gender(GB_EXAMPLE) == "female"
    assert id_number.get_region_code(GB_EXAMPLE) == "110105"
    assert id_number.get_document_kind(GB_EXAMPLE) == "resident"


def test_stdnum_doctest_number_is_male() -> None:
    # The example of stdnum.cn.ric, a second independent vector.
    assert id_number.validate("360426199101010071", today=TODAY) == "360426199101010071"
    assert id_number.get_gender("360426199101010071") == "male"


@pytest.mark.parametrize(
    "written",
    [
        "11010519491231002x",
        " 110105 19491231 002X ",
        "110105-19491231-002x",
        "１１０１０５１９４９１２３１００２ｘ",
    ],
)
def test_lower_case_x_spaces_and_full_width_are_normalised(written: str) -> None:
    assert id_number.validate(written, today=TODAY) == GB_EXAMPLE


def test_fifteen_digit_number_is_upgraded() -> None:
    assert id_number.upgrade_15_to_18("110105491231002") == GB_EXAMPLE
    assert id_number.validate("110105491231002", today=TODAY) == GB_EXAMPLE
    assert id_number.get_birth_date("110105491231002") == datetime.date(1949, 12, 31)


@pytest.mark.parametrize(
    ("number", "part"),
    [
        ("", "length"),
        ("1101051949123100", "length"),
        ("1101051949123100211", "length"),
        ("11010519491231002Y", "format"),
        ("X1010519491231002X", "format"),
        ("11010549123100X", "format"),  # a 15-digit number never has a check character
        ("110105194912310021", "checksum"),
        ("11010519491231003X", "checksum"),
    ],
)
def test_shape_and_checksum_failures(number: str, part: str) -> None:
    fails_with(number, part)


def test_upgrade_rejects_wrong_shapes() -> None:
    with pytest.raises(IdNumberInvalid) as info:
        id_number.upgrade_15_to_18(GB_EXAMPLE)
    assert info.value.part == "length"
    with pytest.raises(IdNumberInvalid) as info:
        id_number.upgrade_15_to_18("11010549123100X")
    assert info.value.part == "format"


def _with_date(yyyymmdd: str) -> str:
    """GB_EXAMPLE with another birth date field and a correct check character."""
    body = "110105" + yyyymmdd + "002"
    return body + id_number._check_character(body)


def test_checksum_is_checked_before_the_date() -> None:
    impossible = _with_date("19490230")
    fails_with(impossible, "birth_date")
    wrong_check = impossible[:17] + ("0" if impossible[17] != "0" else "1")
    fails_with(wrong_check, "checksum")


@pytest.mark.parametrize("yyyymmdd", ["19490230", "19491301", "19490000", "20230229"])
def test_impossible_calendar_dates(yyyymmdd: str) -> None:
    fails_with(_with_date(yyyymmdd), "birth_date")


def test_future_birth_date() -> None:
    tomorrow = TODAY + datetime.timedelta(days=1)
    number = id_number.build("110105", tomorrow, 2)
    error = fails_with(number, "birth_date")
    assert "future" in error.message
    # Born today is fine.
    assert id_number.is_valid(id_number.build("110105", TODAY, 2), today=TODAY)
    # The future test uses the given "today", not the clock.
    assert id_number.is_valid(number, today=tomorrow)


def test_birth_before_1900() -> None:
    error = fails_with(id_number.build("110105", datetime.date(1899, 12, 31), 2), "birth_date")
    assert "1900" in error.message


def test_leap_day_is_a_real_date() -> None:
    assert id_number.is_valid(_with_date("20000229"), today=TODAY)


@pytest.mark.parametrize("region", ["990105", "000000", "110199", "119900", "710199"])
def test_unknown_region(region: str) -> None:
    fails_with(id_number.build(region, datetime.date(1980, 5, 17), 123), "region")


def test_retired_county_codes_still_validate() -> None:
    # 崇文区 (110103) was merged into 东城区 in 2010; stdnum.cn.ric would reject a
    # number of someone born after that, but the code stays on cards issued earlier
    # and on numbers assigned on first registration.
    assert id_number.is_valid(id_number.build("110103", datetime.date(1975, 3, 2), 8), today=TODAY)
    assert id_number.is_valid(id_number.build("110103", datetime.date(2012, 3, 2), 8), today=TODAY)
    # 密云区 (110118) exists since 2015; adults registered there carry it too.
    assert id_number.is_valid(id_number.build("110118", datetime.date(1960, 3, 2), 8), today=TODAY)


@pytest.mark.parametrize(
    ("region", "kind"),
    [("810000", "permit_hk"), ("820000", "permit_mo"), ("830000", "permit_tw")],
)
def test_residence_permits(region: str, kind: str) -> None:
    # Born before the 1997 and 1999 handovers: stdnum's table dates 810000 and 820000
    # from then, which must not matter.
    number = id_number.build(region, datetime.date(1962, 10, 1), 37)
    assert id_number.validate(number, today=TODAY) == number
    assert id_number.get_document_kind(number) == kind
    assert id_number.get_gender(number) == "male"
    assert id_number.get_region_code(number) == region


def test_known_region_codes() -> None:
    codes = id_number.known_region_codes()
    assert list(codes) == sorted(set(codes))
    assert {"110105", "110103", "810000", "820000", "830000", "650102"} <= set(codes)
    assert all(len(code) == 6 and code.isdigit() for code in codes)
    assert "990000" not in codes


@pytest.mark.parametrize(
    ("on", "age"),
    [
        (datetime.date(1949, 12, 31), 0),
        (datetime.date(1967, 12, 30), 17),
        (datetime.date(1967, 12, 31), 18),
        (datetime.date(2024, 1, 1), 74),
    ],
)
def test_age(on: datetime.date, age: int) -> None:
    assert id_number.get_age(GB_EXAMPLE, on) == age


def test_age_of_leap_day_birth() -> None:
    number = _with_date("20000229")
    assert id_number.get_age(number, datetime.date(2018, 2, 28)) == 17
    assert id_number.get_age(number, datetime.date(2018, 3, 1)) == 18
    assert id_number.get_age(number, datetime.date(2020, 2, 29)) == 20


def test_age_before_birth_is_an_error() -> None:
    with pytest.raises(IdNumberInvalid) as info:
        id_number.get_age(GB_EXAMPLE, datetime.date(1949, 12, 30))
    assert info.value.part == "birth_date"


def test_helpers_validate_their_input() -> None:
    for helper in (id_number.get_birth_date, id_number.get_gender, id_number.get_region_code):
        with pytest.raises(IdNumberInvalid):
            helper("110105194912310021")


def test_build_checks_its_arguments() -> None:
    with pytest.raises(IdNumberInvalid) as info:
        id_number.build("11010", datetime.date(1980, 1, 1), 1)
    assert info.value.part == "region"
    with pytest.raises(IdNumberInvalid) as info:
        id_number.build("１１０１０５", datetime.date(1980, 1, 1), 1)
    assert info.value.part == "region"
    with pytest.raises(IdNumberInvalid) as info:
        id_number.build("110105", datetime.date(1980, 1, 1), 1000)
    assert info.value.part == "format"


def test_build_reproduces_the_standard_example() -> None:
    assert id_number.build("110105", datetime.date(1949, 12, 31), 2) == GB_EXAMPLE


@given(regions, birth_dates, sequences)
def test_built_numbers_validate_and_round_trip(
    region: str, birth: datetime.date, sequence: int
) -> None:
    number = id_number.build(region, birth, sequence)
    assert id_number.validate(number, today=TODAY) == number
    assert id_number.validate(number.lower(), today=TODAY) == number
    assert id_number.get_birth_date(number) == birth
    assert id_number.get_gender(number) == ("male" if sequence % 2 else "female")
    assert id_number.get_region_code(number) == region
    assert id_number.get_age(number, birth) == 0


@given(regions, st.dates(datetime.date(1900, 1, 1), datetime.date(1999, 12, 31)), sequences)
def test_fifteen_digit_upgrade_validates(region: str, birth: datetime.date, sequence: int) -> None:
    old = f"{region}{birth:%y%m%d}{sequence:03d}"
    assert id_number.upgrade_15_to_18(old) == id_number.build(region, birth, sequence)
    assert id_number.validate(old, today=TODAY) == id_number.build(region, birth, sequence)


@given(id_numbers(), st.integers(0, 16), st.integers(1, 9))
def test_any_single_digit_change_is_caught(number: str, position: int, delta: int) -> None:
    # MOD 11-2 detects every single-character substitution; the error may also be
    # about a field the change broke, but the number never passes.
    digit = (int(number[position]) + delta) % 10
    changed = number[:position] + str(digit) + number[position + 1 :]
    assert not id_number.is_valid(changed, today=TODAY)


@given(st.text(alphabet="0123456789Xx -", max_size=24))
def test_errors_never_echo_the_input(text: str) -> None:
    if id_number.is_valid(text, today=TODAY):
        return
    with pytest.raises(IdNumberInvalid) as info:
        id_number.validate(text, today=TODAY)
    assert not leaks(info.value.message, id_number.compact(text))


def test_repeated_checks_give_the_same_answer_and_fresh_errors() -> None:
    """Checks are remembered (bounded) per day; a refusal is raised anew each time."""
    valid = id_number.build("110101", datetime.date(1990, 1, 1), 123)
    assert id_number.validate(valid, today=TODAY) == valid
    assert id_number.validate(valid.lower(), today=TODAY) == valid
    future = id_number.build("110101", TODAY + datetime.timedelta(days=1), 123)
    assert id_number.validate(future, today=TODAY + datetime.timedelta(days=1)) == future
    errors = []
    for _ in range(2):
        with pytest.raises(IdNumberInvalid) as caught:
            id_number.validate(future, today=TODAY)
        errors.append(caught.value)
    assert errors[0] is not errors[1]
    assert [error.part for error in errors] == ["birth_date", "birth_date"]
    assert "future" in errors[1].message
    assert id_number._checked.cache_info().maxsize == id_number.CHECK_CACHE_SIZE
