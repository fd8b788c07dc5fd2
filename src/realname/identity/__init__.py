"""Parsers for the identifiers people submit: pure functions, no I/O.

One module per identifier, each with the same verbs as python-stdnum (``compact``,
``validate``, ``is_valid``, ``get_*``, ``mask``), raising one error per identifier:

- :mod:`~realname.identity.id_number`: resident ID numbers (GB 11643-1999), 15-digit
  upgrade, Hong Kong / Macao / Taiwan residence permits — :class:`IdNumberInvalid`;
- :mod:`~realname.identity.name`: registry names, separators, simplified variants —
  :class:`NameInvalid`;
- :mod:`~realname.identity.phone`: mainland mobile numbers, carrier by allocated block
  — :class:`PhoneInvalid`;
- :mod:`~realname.identity.bank_card`: card numbers, Luhn, issuer by BIN —
  :class:`BankCardInvalid`;
- :mod:`~realname.identity.masking`: display masking (JR/T 0171-2020).

All errors derive from :class:`IdentityError` (a ``RealnameError`` and a
``ValueError``, HTTP 422) and never quote the submitted value.
"""

from __future__ import annotations

from realname.identity import bank_card, id_number, masking, name, phone
from realname.identity.bank_card import CardIssuer, CardType
from realname.identity.errors import (
    BankCardInvalid,
    IdentityError,
    IdNumberInvalid,
    NameInvalid,
    PhoneInvalid,
)
from realname.identity.id_number import DocumentKind, Gender
from realname.identity.masking import mask_bank_card, mask_id_number, mask_name, mask_phone
from realname.identity.phone import Carrier, MobileNumber

__all__ = [
    "BankCardInvalid",
    "CardIssuer",
    "CardType",
    "Carrier",
    "DocumentKind",
    "Gender",
    "IdNumberInvalid",
    "IdentityError",
    "MobileNumber",
    "NameInvalid",
    "PhoneInvalid",
    "bank_card",
    "forget_recent_values",
    "id_number",
    "mask_bank_card",
    "mask_id_number",
    "mask_name",
    "mask_phone",
    "masking",
    "name",
    "phone",
]


def forget_recent_values() -> None:
    """Empty the in-memory caches of recently parsed phone and ID numbers.

    What a process that has not met these values yet holds. For benchmarks and tests
    that must not count, as cheap, a parse an earlier step already paid for.
    """
    phone._parse.cache_clear()
    id_number._checked.cache_clear()
