from __future__ import annotations

import dataclasses

import phonenumbers
import pytest
from hypothesis import given
from phonenumbers import PhoneNumberType, geocoder
from phonenumbers import carrier as pn_carrier

from realname.identity import MobileNumber, PhoneInvalid, forget_recent_values, id_number, phone
from realname.identity._data import read_table

from .conftest import leaks, mobile_numbers

_LIBPHONENUMBER_CARRIERS = {
    "China Mobile": "cmcc",
    "China Unicom": "cucc",
    "China Telecom": "ctcc",
    "China Broadnet": "cbn",
}


@pytest.mark.parametrize(
    "written",
    [
        "+86 139 1234 5678",
        "0086-139-1234-5678",
        "86 13912345678",
        "8613912345678",
        "139 1234 5678",
        "139-1234-5678",
        "13912345678",
        "(139) 1234 5678",
        "１３９１２３４５６７８",
        "＋８６ １３９ １２３４ ５６７８",
    ],
)
def test_every_common_form_parses_to_the_same_number(written: str) -> None:
    number = phone.parse(written)
    assert number.national == "13912345678"
    assert number.e164 == "+8613912345678"
    assert phone.validate(written) == "13912345678"
    assert phone.is_valid(written)


@pytest.mark.parametrize(
    ("number", "carrier", "virtual"),
    [
        ("13912345678", "cmcc", False),
        ("13412345678", "cmcc", False),
        ("13491234567", "ctcc", False),  # 1349 overrides 134
        ("18612345678", "cucc", False),
        ("18912345678", "ctcc", False),
        ("19212345678", "cbn", False),
        ("17001234567", "ctcc", True),
        ("17021234567", "ctcc", True),
        ("17031234567", "cmcc", True),
        ("17041234567", "cucc", True),
        ("17051234567", "cmcc", True),
        ("17061234567", "cmcc", True),
        ("17071234567", "cucc", True),
        ("17091234567", "cucc", True),
        ("17112345678", "cucc", True),
        ("16212345678", "ctcc", True),
        ("16512345678", "cmcc", True),
        ("16712345678", "cucc", True),
        ("16612345678", "cucc", False),
        ("19912345678", "ctcc", False),
    ],
)
def test_carrier_by_allocated_block(number: str, carrier: str, virtual: bool) -> None:
    parsed = phone.parse(number)
    assert parsed.carrier == carrier
    assert parsed.is_virtual is virtual
    assert phone.get_carrier(number) == carrier


def test_home_location() -> None:
    jiangsu = phone.parse("13912345678")
    assert (jiangsu.home_province, jiangsu.home_city) == ("江苏省", "常州市")
    beijing = phone.parse("18612345678")
    assert (beijing.home_province, beijing.home_city) == ("北京市", "北京市")
    # MVNO blocks have no home location in libphonenumber's data.
    virtual = phone.parse("17031234567")
    assert (virtual.home_province, virtual.home_city) == (None, None)


def test_home_location_is_what_the_geocoder_says_for_the_type_already_known() -> None:
    # _home is handed the type parse() worked out, instead of letting the geocoder's
    # one-call form work it out again; the description must not change for any type:
    # mobile, fixed line, toll-free (800), shared cost (400) and unknown (95588).
    written = [f"{prefix}1234" for prefix in range(1300000, 2000000, 7919)]
    written += [f"0{prefix}" for prefix in range(200000000, 999999999, 10472939)]
    written += ["4001234567", "8001234567", "95588", "10086"]
    kinds = set()
    for text in written:
        number = phonenumbers.parse(text, "CN")
        kind = phonenumbers.number_type(number)
        kinds.add(kind)
        whole = geocoder.description_for_number(number, "zh").strip()
        assert phone._home(number, kind) == phone._home_of(whole), text
    assert {
        PhoneNumberType.MOBILE,
        PhoneNumberType.FIXED_LINE,
        PhoneNumberType.TOLL_FREE,
        PhoneNumberType.SHARED_COST,
        PhoneNumberType.UNKNOWN,
    } <= kinds


def test_autonomous_regions_get_their_official_names() -> None:
    seen = set()
    for prefix in range(1300000, 1400000, 137):
        number = phonenumbers.parse(f"{prefix}1234", "CN")
        seen.add(phone._home(number, phonenumbers.number_type(number)))
    provinces = {province for province, _ in seen}
    assert {"新疆维吾尔自治区", "广西壮族自治区", "内蒙古自治区"} <= provinces
    assert not {"新疆", "广西", "内蒙古", "宁夏", "西藏"} & provinces
    assert all(
        city is None or city.endswith(("市", "州", "盟", "地区", "区", "县")) for _, city in seen
    )


def test_mobile_number_is_frozen() -> None:
    number = phone.parse("13912345678")
    assert isinstance(number, MobileNumber)
    with pytest.raises(dataclasses.FrozenInstanceError):
        number.national = "13800000000"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        ("", "not_a_number"),
        ("hello", "not_a_number"),
        ("139-CALL-5678", "not_a_number"),
        ("+852 9123 4567", "not_mainland"),
        ("+853 6612 3456", "not_mainland"),
        ("+886 912 345 678", "not_mainland"),
        ("+1 650 253 0000", "not_mainland"),
        ("+44 7700 900123", "not_mainland"),
        ("010-12345678", "not_mobile"),
        ("+86 10 1234 5678", "not_mobile"),
        ("0755-8888-8888", "not_mobile"),
        ("400 810 8888", "not_mobile"),
        ("1391234567", "not_mobile"),
        ("12345678901", "unknown_range"),
        ("14012345678", "unknown_range"),
        ("10012345678", "unknown_range"),
    ],
)
def test_invalid_numbers(written: str, reason: str) -> None:
    with pytest.raises(PhoneInvalid) as info:
        phone.parse(written)
    assert info.value.reason == reason
    assert info.value.code == "PHONE_INVALID"
    assert not leaks(info.value.message, phone.compact(written))
    assert not phone.is_valid(written)


def _table() -> list[dict[str, str]]:
    return read_table("mobile_prefixes.csv")


@pytest.mark.parametrize("row", _table(), ids=lambda row: row["prefix"])
def test_table_agrees_with_libphonenumber(row: dict[str, str]) -> None:
    # Every block must hold valid mobile numbers, and where libphonenumber names a
    # carrier it must be the one the table gives (for MVNO blocks: the host).
    prefix = row["prefix"]
    checked = 0
    for tail in range(0, 10 ** (11 - len(prefix)), 10 ** (11 - len(prefix)) // 97):
        number = phonenumbers.parse(f"{prefix}{tail:0{11 - len(prefix)}d}", "CN")
        if not phonenumbers.is_valid_number(number):
            continue
        checked += 1
        name = pn_carrier.name_for_number(number, "en")
        if name:
            assert _LIBPHONENUMBER_CARRIERS[name] == row["carrier"]
    assert checked > 0


def test_table_covers_every_block_libphonenumber_knows() -> None:
    table = {row["prefix"] for row in _table()}
    for block in range(1300, 2000):
        sample = phonenumbers.parse(f"{block}5550123", "CN")
        is_mobile = phonenumbers.number_type(sample) == phonenumbers.PhoneNumberType.MOBILE
        if phonenumbers.is_valid_number(sample) and is_mobile:
            assert str(block) in table or str(block)[:3] in table, block


@given(mobile_numbers())
def test_generated_numbers_parse_in_every_form(national: str) -> None:
    spaced = f"+86 {national[:3]} {national[3:7]} {national[7:]}"
    dashed = f"0086-{national[:3]}-{national[3:7]}-{national[7:]}"
    for written in (national, spaced, dashed, "86" + national):
        number = phone.parse(written)
        assert number.national == national
        assert number.e164 == "+86" + national


def test_repeated_parses_give_the_same_answer_and_fresh_errors() -> None:
    """Parses are remembered (bounded); a refusal is raised anew each time."""
    first = phone.parse("+86 139-1234-5678")
    assert phone.parse("+86 139-1234-5678") == first
    assert phone.validate("+86 139-1234-5678") == "13912345678"
    errors = []
    for _ in range(2):
        with pytest.raises(PhoneInvalid) as caught:
            phone.parse("+852 9123 4567")
        errors.append(caught.value)
    assert errors[0] is not errors[1]
    assert [error.reason for error in errors] == ["not_mainland", "not_mainland"]
    assert phone._parse.cache_info().maxsize == phone.PARSE_CACHE_SIZE


def test_forgetting_recent_values_empties_both_parse_caches() -> None:
    before = phone.parse("13912345678")
    id_number.validate("11010519491231002X")
    assert phone._parse.cache_info().currsize > 0
    assert id_number._checked.cache_info().currsize > 0
    forget_recent_values()
    assert phone._parse.cache_info().currsize == 0
    assert id_number._checked.cache_info().currsize == 0
    assert phone.parse("13912345678") == before  # parsed again, the same answer
