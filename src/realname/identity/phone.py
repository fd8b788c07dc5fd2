"""Mainland China mobile numbers.

A mainland mobile number has 11 digits starting with 1 (ITU-T E.164 country code 86;
numbering plan of the Ministry of Industry and Information Technology). The first
three digits, four for some blocks, tell which carrier the block was allocated to;
MVNO (virtual operator, 虚拟运营商) blocks ride on a host carrier's network.

Parsing, validity, number type and the home location come from ``phonenumbers``
(libphonenumber). The carrier comes from ``data/mobile_prefixes.csv`` instead of
libphonenumber's carrier table, because realname needs the four fixture codes, the
carrier the block was *originally* allocated to (which the carrier-lookup check of a
ported number compares against), the host of MVNO blocks that libphonenumber leaves
unnamed (162, 165), and the virtual flag, none of which libphonenumber provides.

>>> n = parse('+86 139-1234-5678')
>>> n.national, n.e164, n.carrier, n.is_virtual
('13912345678', '+8613912345678', 'cmcc', False)
>>> mask('13912345678')
'139****5678'
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal, cast

import phonenumbers
from phonenumbers import PhoneNumberType, geocoder
from stdnum.util import clean

from realname.identity._data import read_table
from realname.identity.errors import PhoneInvalid, PhoneReason

__all__ = [
    "Carrier",
    "MobileNumber",
    "compact",
    "get_carrier",
    "is_valid",
    "mask",
    "parse",
    "validate",
]

Carrier = Literal["cmcc", "cucc", "ctcc", "cbn"]
#: The country calling code of mainland China (E.164).
_MAINLAND = 86
_CARRIERS: frozenset[str] = frozenset(("cmcc", "cucc", "ctcc", "cbn"))


@dataclass(frozen=True, slots=True)
class MobileNumber:
    """A parsed mainland mobile number.

    ``carrier`` is the carrier the number block was allocated to (for an MVNO block,
    the host network); after number portability the subscriber may be elsewhere.
    ``home_province`` and ``home_city`` are where the number was issued (号码归属地),
    from libphonenumber's geocoding data, with official province names such as
    ``'广西壮族自治区'``; for the four municipalities both are the municipality. Both
    are ``None`` for blocks libphonenumber has no location for (MVNO blocks mostly).
    """

    national: str
    e164: str
    carrier: Carrier
    is_virtual: bool
    home_province: str | None
    home_city: str | None


@dataclass(frozen=True, slots=True)
class _Block:
    carrier: Carrier
    virtual: bool


@functools.cache
def _blocks() -> dict[str, _Block]:
    blocks: dict[str, _Block] = {}
    for row in read_table("mobile_prefixes.csv"):
        carrier = row["carrier"]
        if carrier not in _CARRIERS:  # pragma: no cover - guards the data file
            raise ValueError("mobile_prefixes.csv names an unknown carrier code")
        blocks[row["prefix"]] = _Block(cast(Carrier, carrier), row["virtual"] == "1")
    return blocks


def _block(national: str) -> _Block | None:
    blocks = _blocks()
    return blocks.get(national[:4]) or blocks.get(national[:3])


def compact(number: str) -> str:
    """The number without spaces, dashes, dots and brackets, full-width forms folded
    to ASCII; a leading ``+`` is kept. Nothing is validated."""
    number = unicodedata.normalize("NFKC", number)
    return clean("".join(number.split()), "-.()")


# The autonomous regions appear under their short names in libphonenumber's zh data;
# they are given the official names used by GB/T 2260 (and by stdnum's region table) so
# that a phone's province can be compared with an ID number's.
_PROVINCE_NAMES = {
    "内蒙古": "内蒙古自治区",
    "广西": "广西壮族自治区",
    "西藏": "西藏自治区",
    "宁夏": "宁夏回族自治区",
    "新疆": "新疆维吾尔自治区",
}
_MUNICIPALITIES = ("北京", "天津", "上海", "重庆")
_PROVINCE = re.compile(r"(.+?省|内蒙古|广西|西藏|宁夏|新疆)(.*)")


def _home(number: phonenumbers.PhoneNumber, kind: int) -> tuple[str | None, str | None]:
    """Where the number was issued, from libphonenumber's zh geocoding data.

    ``kind`` is the number's type (a :class:`PhoneNumberType` value), already worked
    out by the caller, and the number is a mainland one:
    ``geocoder.description_for_number`` would work it out again (a second pass over
    the patterns, a tenth of a first parse) before making exactly this choice.
    """
    if kind == PhoneNumberType.UNKNOWN:
        description = ""
    elif phonenumbers.is_number_type_geographical(kind, _MAINLAND):
        description = geocoder.description_for_valid_number(number, "zh")
    else:
        description = geocoder.country_name_for_number(number, "zh")
    return _home_of(description.strip())


def _home_of(description: str) -> tuple[str | None, str | None]:
    # libphonenumber gives one string ("江苏省常州市", "新疆乌鲁木齐市", "北京市",
    # "中国" when it only knows the country); it is split into province and city here.
    for city in _MUNICIPALITIES:
        if description.startswith(city):
            return city + "市", city + "市"
    match = _PROVINCE.fullmatch(description)
    if match is None:
        return None, None
    province = _PROVINCE_NAMES.get(match[1], match[1])
    return province, match[2] or None


#: How many distinct inputs :func:`parse` remembers. One verification parses its
#: number several times (intake, the attempt limits, the carrier checks); this keeps
#: the recent ones (in memory only) so repeats cost a dictionary lookup.
PARSE_CACHE_SIZE = 4096


def parse(number: str) -> MobileNumber:
    """Parse any common way of writing a mainland mobile number.

    Accepts ``+86 139 1234 5678``, ``0086-139-1234-5678``, ``86 13912345678``,
    ``139 1234 5678``, ``(139) 1234-5678`` and full-width digits. Raises
    :class:`PhoneInvalid` with ``reason`` ``not_a_number`` (unreadable),
    ``not_mainland`` (another country code, including +852, +853 and +886),
    ``not_mobile`` (landline, service or incomplete number) or ``unknown_range`` (an
    11-digit number starting with 1 whose block is allocated to no carrier).
    """
    parsed = _parse(number)
    if isinstance(parsed, MobileNumber):
        return parsed
    raise PhoneInvalid(parsed)


@functools.lru_cache(maxsize=PARSE_CACHE_SIZE)
def _parse(number: str) -> MobileNumber | PhoneReason:
    """:func:`parse`, memoised: the (immutable) result, or why the number is refused.

    The refusal is cached as its reason, not as an exception object, so each caller
    raises a fresh exception with its own traceback.
    """
    text = unicodedata.normalize("NFKC", number)
    # libphonenumber reads letters as keypad digits (1-800-FLOWERS); nobody writes a
    # Chinese mobile number that way, so letters mean the value is not a number.
    if any(unicodedata.category(char).startswith("L") for char in text):
        return "not_a_number"
    try:
        parsed = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException:
        return "not_a_number"
    if parsed.country_code != _MAINLAND:
        return "not_mainland"
    national = str(parsed.national_number)
    looks_mobile = len(national) == 11 and national.startswith("1")
    # For +86 (a single region) is_valid_number is number_type != UNKNOWN; asking
    # for the type once saves libphonenumber a second pass over its patterns.
    kind = phonenumbers.number_type(parsed)
    if kind == PhoneNumberType.UNKNOWN:
        return "unknown_range" if looks_mobile else "not_mobile"
    if kind != PhoneNumberType.MOBILE:
        return "not_mobile"
    block = _block(national)
    if block is None:
        return "unknown_range"
    province, city = _home(parsed, kind)
    return MobileNumber(
        national=national,
        e164=phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164),
        carrier=block.carrier,
        is_virtual=block.virtual,
        home_province=province,
        home_city=city,
    )


def validate(number: str) -> str:
    """The 11-digit national number, or :class:`PhoneInvalid` (see :func:`parse`)."""
    return parse(number).national


def is_valid(number: str) -> bool:
    """Whether :func:`parse` accepts the number."""
    try:
        parse(number)
    except PhoneInvalid:
        return False
    return True


def get_carrier(number: str) -> Carrier:
    """The carrier the number's block was allocated to (the host for MVNO blocks)."""
    return parse(number).carrier


def mask(number: str) -> str:
    """Mask for display per JR/T 0171-2020 practice: ``139****5678``.

    Any way of writing a mainland mobile number gives the 11-digit masked form; the
    block need not be allocated. Anything else is masked entirely.
    """
    text = compact(number)
    national = ""
    if re.fullmatch(r"\+?[0-9]+", text):
        try:
            parsed = phonenumbers.parse(text, "CN")
        except phonenumbers.NumberParseException:
            pass
        else:
            if parsed.country_code == 86:
                national = str(parsed.national_number)
    if len(national) == 11 and national.startswith("1"):
        return national[:3] + "****" + national[-4:]
    return "*" * len(text)
