"""Bank card numbers (primary account numbers, PAN), ISO/IEC 7812.

A PAN is 12 to 19 digits (Chinese banks issue 16 to 19): an issuer identification
number (the BIN, six digits or more) followed by the account number and a Luhn check
digit. The issuer is found in ``data/bank_bins.csv``, a curated subset of the open
bcbc BIN table covering the major Chinese banks, with a catch-all row for any other
UnionPay (62) card; see that file's header for its source and limits.

>>> validate('6222 0212 3456 7890 128')
'6222021234567890128'
>>> issuer = get_issuer('6222021234567890128')
>>> issuer.bank_code, issuer.name_zh, issuer.card_type
('ICBC', '中国工商银行', 'debit')
>>> mask('6225881234567898')
'6225 **** **** 7898'
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal, cast

from stdnum import luhn
from stdnum.util import clean

from realname.identity._data import read_table
from realname.identity.errors import BankCardInvalid

__all__ = [
    "CardIssuer",
    "CardType",
    "compact",
    "get_issuer",
    "is_valid",
    "mask",
    "validate",
]

CardType = Literal["debit", "credit", "unknown"]
_CARD_TYPES: frozenset[str] = frozenset(("debit", "credit", "unknown"))

MIN_LENGTH = 12
MAX_LENGTH = 19


@dataclass(frozen=True, slots=True)
class CardIssuer:
    """The bank that issued a card, as the BIN table knows it.

    ``bank_code`` uses the bcbc/Alipay codes (``ICBC``, ``COMM`` for BOCOM, ``SPABANK``
    for Ping An, ``UNIONPAY`` for a UnionPay card of an unlisted issuer, whose
    ``card_type`` is then ``'unknown'``).
    """

    bank_code: str
    name_zh: str
    name_en: str
    card_type: CardType


@dataclass(frozen=True, slots=True)
class _Row:
    issuer: CardIssuer
    length: int | None


@functools.cache
def _bins() -> dict[str, list[_Row]]:
    table: dict[str, list[_Row]] = {}
    for row in read_table("bank_bins.csv"):
        card_type = row["card_type"]
        if card_type not in _CARD_TYPES:  # pragma: no cover - guards the data file
            raise ValueError("bank_bins.csv names an unknown card type")
        issuer = CardIssuer(
            row["bank_code"], row["bank_name_zh"], row["bank_name_en"], cast(CardType, card_type)
        )
        length = int(row["length"]) if row["length"] else None
        table.setdefault(row["bin"], []).append(_Row(issuer, length))
    return table


@functools.cache
def _prefix_lengths() -> tuple[int, ...]:
    return tuple(sorted({len(prefix) for prefix in _bins()}, reverse=True))


def compact(number: str) -> str:
    """The number without whitespace and dashes, full-width digits folded to ASCII.
    Nothing is validated."""
    number = unicodedata.normalize("NFKC", number)
    return clean("".join(number.split()), "-")


def _shape(number: str) -> str:
    number = compact(number)
    if not re.fullmatch(r"[0-9]*", number):
        raise BankCardInvalid("format")
    if not MIN_LENGTH <= len(number) <= MAX_LENGTH:
        raise BankCardInvalid("length")
    return number


def _lookup(number: str) -> CardIssuer:
    # Longest prefix first. Where two rows share a prefix (a BIN reused for cards of
    # different lengths), the row recording this card's length wins; the length is
    # otherwise not enforced, because the table records one length per BIN while
    # banks do issue several.
    table = _bins()
    for size in _prefix_lengths():
        rows = table.get(number[:size])
        if rows:
            for row in rows:
                if row.length == len(number):
                    return row.issuer
            return rows[0].issuer
    raise BankCardInvalid("unknown_issuer")


def validate(number: str) -> str:
    """Return the digits of the card number, or raise :class:`BankCardInvalid`.

    Checks, in order: only digits after removing spaces and dashes (``format``), 12 to
    19 digits (``length``), the Luhn check digit via ``stdnum.luhn`` (``checksum``) and
    a known issuer (``unknown_issuer``; any UnionPay 62 card has one).
    """
    number = _shape(number)
    if not luhn.is_valid(number):
        raise BankCardInvalid("checksum")
    _lookup(number)
    return number


def is_valid(number: str) -> bool:
    """Whether :func:`validate` accepts the number."""
    try:
        validate(number)
    except BankCardInvalid:
        return False
    return True


def get_issuer(number: str) -> CardIssuer:
    """The issuer of a valid card number (raises like :func:`validate`)."""
    return _lookup(validate(number))


def mask(number: str) -> str:
    """Mask for display: first 4 and last 4 digits, in groups of four.

    JR/T 0171-2020 practice allows at most the first 6 and the last 4 digits; realname
    shows less. ``'6222 **** **** 0004'`` for 16 digits. A value that is not 12 to 19
    digits is masked entirely, so it never leaks more than a well-formed one.
    """
    number = compact(number)
    if not (re.fullmatch(r"[0-9]*", number) and MIN_LENGTH <= len(number) <= MAX_LENGTH):
        return "*" * len(number)
    masked = number[:4] + "*" * (len(number) - 8) + number[-4:]
    return " ".join(masked[i : i + 4] for i in range(0, len(masked), 4))
