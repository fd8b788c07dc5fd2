"""Resident identity numbers (公民身份号码), GB 11643-1999.

An 18-character number is four fields: a six-digit administrative region code
(GB/T 2260) of the place where the number was first issued, the birth date as
YYYYMMDD, a three-digit sequence number whose last digit is odd for men and even for
women, and a check character computed with ISO 7064 MOD 11-2 (``X`` stands for 10).

First-generation numbers (GB 11643-1989) carried 15 digits: region, YYMMDD and
sequence, without a check character. They are upgraded to 18 before any check by
inserting the century ``19`` and computing the check character, the same conversion
used when second-generation cards replaced the first. Residence permits for Hong Kong,
Macao and Taiwan residents (港澳台居民居住证, issued since 2018) use the same layout
with the region codes 810000, 820000 and 830000.

>>> validate('11010519491231002x', today=datetime.date(2024, 1, 1))
'11010519491231002X'
>>> upgrade_15_to_18('110105491231002')
'11010519491231002X'
>>> get_gender('11010519491231002X')
'female'
>>> mask('11010519491231002X')
'110105********002X'
"""

from __future__ import annotations

import datetime
import functools
import re
import unicodedata
from typing import Literal

from stdnum import numdb
from stdnum.cn import ric
from stdnum.util import clean

from realname.identity.errors import IdNumberInvalid, IdNumberPart

__all__ = [
    "DocumentKind",
    "Gender",
    "build",
    "compact",
    "get_age",
    "get_birth_date",
    "get_document_kind",
    "get_gender",
    "get_region_code",
    "is_valid",
    "known_region_codes",
    "mask",
    "upgrade_15_to_18",
    "validate",
]

DocumentKind = Literal["resident", "permit_hk", "permit_mo", "permit_tw"]
Gender = Literal["male", "female"]

#: Region codes of the residence permits; 830000 is not a GB/T 2260 division (Taiwan
#: is 710000 there), so it is not in stdnum's table and is added here.
_PERMIT_REGIONS: dict[str, DocumentKind] = {
    "810000": "permit_hk",
    "820000": "permit_mo",
    "830000": "permit_tw",
}

#: No living applicant was born earlier; a year before this is a typo.
MIN_BIRTH_YEAR = 1900

_FORM_18 = re.compile(r"\d{17}[\dX]")
_FORM_15 = re.compile(r"\d{15}")


def compact(number: str) -> str:
    """Return the number without whitespace or dashes, full-width forms folded to
    ASCII (NFKC) and a lower-case ``x`` written as ``X``. Nothing is validated."""
    number = unicodedata.normalize("NFKC", number)
    return clean("".join(number.split()), "-").upper()


@functools.cache
def _region_codes() -> frozenset[str]:
    """All six-digit codes in stdnum's GB/T 2260 table, plus the permit codes.

    stdnum's ``cn/loc`` table keeps retired codes with the years they were in use
    (``[-2010]崇文区``), and ``stdnum.cn.ric`` rejects a number whose birth year lies
    outside that span. We deliberately ignore the years: a number is assigned when a
    person is first registered, not at birth, so an adult registered in 2005 in a
    county created in 2001 holds a code younger than herself, and a code retired in
    2010 stays on every card issued before. Any code that has ever existed passes.
    """
    codes: set[str] = set()
    for p_len, p_low, p_high, _props, children in numdb.get("cn/loc").prefixes:
        for c_len, c_low, c_high, _c_props, _grandchildren in children:
            for p in range(int(p_low), int(p_high) + 1):
                for c in range(int(c_low), int(c_high) + 1):
                    codes.add(f"{p:0{p_len}d}{c:0{c_len}d}")
    codes.update(_PERMIT_REGIONS)
    return frozenset(codes)


def known_region_codes() -> tuple[str, ...]:
    """Every region code :func:`validate` accepts, sorted (for generators)."""
    return tuple(sorted(_region_codes()))


def upgrade_15_to_18(number: str) -> str:
    """Turn a 15-digit first-generation number into its 18-character form.

    Only the shape is checked here; :func:`validate` checks the result. Holders of
    first-generation numbers were all born in the 1900s, so the century is always 19.
    """
    number = compact(number)
    if len(number) != 15:
        raise IdNumberInvalid("length")
    if not _FORM_15.fullmatch(number):
        raise IdNumberInvalid("format")
    body = number[:6] + "19" + number[6:]
    return body + _check_character(body)


def _check_character(body: str) -> str:
    # stdnum.cn.ric computes the ISO 7064 MOD 11-2 character with a base-13 trick that
    # is about ten times faster than the generic stdnum.iso7064.mod_11_2 loop; the
    # sandbox builds millions of numbers, so the fast one is used everywhere. It
    # ignores the last character of its argument, hence the placeholder.
    return str(ric.calc_check_digit(body + "0"))


#: How many distinct (number, day) checks are remembered. One verification checks
#: its ID number several times (intake, the age, each registry call of the sandbox);
#: the recent results (in memory only) make the repeats a dictionary lookup.
CHECK_CACHE_SIZE = 4096


def _check(number: str, today: datetime.date | None) -> str:
    """Validate everything; ``today=None`` skips only the not-in-the-future test."""
    checked = _checked(number, today)
    if isinstance(checked, str):
        return checked
    part, message = checked
    raise IdNumberInvalid(part, message)


@functools.lru_cache(maxsize=CHECK_CACHE_SIZE)
def _checked(number: str, today: datetime.date | None) -> str | tuple[IdNumberPart, str]:
    """:func:`_check`, memoised: the 18-character form, or the failing part and message.

    A refusal is cached as data, not as an exception object, so every caller raises
    a fresh exception with its own traceback.
    """
    try:
        return _check_uncached(number, today)
    except IdNumberInvalid as error:
        return error.part, error.message


def _check_uncached(number: str, today: datetime.date | None) -> str:
    number = compact(number)
    if len(number) == 15:
        number = upgrade_15_to_18(number)
    elif len(number) != 18:
        raise IdNumberInvalid("length")
    if not _FORM_18.fullmatch(number):
        raise IdNumberInvalid("format")
    # The checksum is tested before the fields: a single mistyped digit almost always
    # breaks it, and "check character" is then the most useful thing to report.
    if number[-1] != _check_character(number[:17]):
        raise IdNumberInvalid("checksum")
    birth = _birth_date(number)
    if birth.year < MIN_BIRTH_YEAR:
        raise IdNumberInvalid(
            "birth_date", f"The birth date encoded in the ID number is before {MIN_BIRTH_YEAR}."
        )
    if today is not None and birth > today:
        raise IdNumberInvalid(
            "birth_date", "The birth date encoded in the ID number is in the future."
        )
    if number[:6] not in _region_codes():
        raise IdNumberInvalid("region")
    return number


def _birth_date(number: str) -> datetime.date:
    try:
        return datetime.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise IdNumberInvalid(
            "birth_date",
            "The birth date encoded in the ID number is not a real calendar date.",
        ) from None


def validate(number: str, *, today: datetime.date | None = None) -> str:
    """Check the number and return its 18-character form.

    Checks, in order: length (15 or 18), format, check character, birth date (a real
    date, from 1900, not after ``today``, which defaults to the system date) and region
    code (any code GB/T 2260 has ever listed, or a permit code). A 15-digit number is
    upgraded first. Raises :class:`IdNumberInvalid` whose ``part`` names the failure.
    """
    return _check(number, today if today is not None else datetime.date.today())


def is_valid(number: str, *, today: datetime.date | None = None) -> bool:
    """Whether :func:`validate` accepts the number."""
    try:
        validate(number, today=today)
    except IdNumberInvalid:
        return False
    return True


def get_birth_date(number: str) -> datetime.date:
    """The birth date the number encodes (the number is validated, except that a
    date in the future is not an error here)."""
    return _birth_date(_check(number, None))


def get_age(number: str, on: datetime.date) -> int:
    """Age in completed years on the date ``on``.

    A year is completed on the birthday itself; someone born on 29 February completes
    it on 1 March in common years. A birth date after ``on`` raises
    :class:`IdNumberInvalid` with ``part='birth_date'``.
    """
    birth = _birth_date(_check(number, on))
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def get_gender(number: str) -> Gender:
    """``'male'`` if the sequence number is odd, else ``'female'`` (GB 11643 §4.3)."""
    return "male" if int(_check(number, None)[16]) % 2 else "female"


def get_region_code(number: str) -> str:
    """The six-digit region code (GB/T 2260, or a permit code)."""
    return _check(number, None)[:6]


def get_document_kind(number: str) -> DocumentKind:
    """``'resident'`` for a resident ID card, ``'permit_hk'``, ``'permit_mo'`` or
    ``'permit_tw'`` for a residence permit of a Hong Kong, Macao or Taiwan resident."""
    return _PERMIT_REGIONS.get(_check(number, None)[:6], "resident")


def build(region: str, birth: datetime.date, sequence: int) -> str:
    """Assemble an 18-character number and compute its check character.

    This is the generator's hot path, so it checks only the shape of its arguments
    and does not consult the region table or the date limits: a number built from an
    unknown region or a future date is well-formed but does not validate (which is
    exactly what tests of those failures need).
    """
    if len(region) != 6 or not region.isascii() or not region.isdigit():
        raise IdNumberInvalid("region", "The region code must be six digits.")
    if not 0 <= sequence <= 999:
        raise IdNumberInvalid("format", "The sequence number must be between 0 and 999.")
    body = f"{region}{birth.year:04d}{birth.month:02d}{birth.day:02d}{sequence:03d}"
    return body + _check_character(body)


def mask(number: str) -> str:
    """Mask for display per JR/T 0171-2020: the first 6 and the last 4 characters stay.

    Anything that is not shaped like an ID number (15 digits, or 17 digits and a check
    character) is masked entirely, so a malformed value never leaks more than a
    well-formed one.
    """
    number = compact(number)
    if _FORM_18.fullmatch(number) or _FORM_15.fullmatch(number):
        return number[:6] + "*" * (len(number) - 10) + number[-4:]
    return "*" * len(number)
