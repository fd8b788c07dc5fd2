"""Errors raised by the identifier parsers in :mod:`realname.identity`.

Each error is both a :class:`~realname.errors.RealnameError` (stable ``code``, HTTP
422, safe message) and a :class:`ValueError`, so code that treats a malformed value
as a plain ``ValueError`` keeps working. The machine-readable detail (``part`` for ID
numbers, ``reason`` for the others) comes from a closed vocabulary listed on each
class; the message names the faulty part in plain English and never repeats the
submitted value, not even a fragment of it, because messages end up in logs and API
answers where personal data must not appear (PIPL Art. 51, JR/T 0171-2020 §7).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from realname.errors import RealnameError

IdNumberPart = Literal["length", "format", "checksum", "birth_date", "region"]
NameReason = Literal[
    "empty",
    "too_long",
    "control_character",
    "digits",
    "forbidden_character",
    "latin_script",
    "mixed_script",
    "non_han_script",
]
PhoneReason = Literal["not_a_number", "not_mainland", "not_mobile", "unknown_range"]
BankCardReason = Literal["length", "format", "checksum", "unknown_issuer"]


# The four classes below are named after the cause codes they carry (DESIGN §4)
# rather than with an ``Error`` suffix, so that a reader maps one to the other at once.


class IdentityError(RealnameError, ValueError):
    """A submitted identifier cannot be what it claims to be.

    Subclasses name their detail key in ``detail_key`` and give one default message per
    detail value in ``messages``; a caller may pass a more specific ``message``, which
    must follow the same rule of never quoting the input.
    """

    code: ClassVar[str] = "IDENTITY_INVALID"
    http_status: ClassVar[int] = 422
    default_message: ClassVar[str] = "The submitted identifier is not valid."
    detail_key: ClassVar[str] = "reason"
    messages: ClassVar[Mapping[str, str]] = {}

    def __init__(self, detail: str, message: str | None = None, **details: Any) -> None:
        details[self.detail_key] = detail
        super().__init__(message or self.messages.get(detail), **details)

    @property
    def detail(self) -> str:
        """The value of the detail key (``part`` or ``reason``)."""
        return str(self.details[self.detail_key])


class IdNumberInvalid(IdentityError):
    """The resident ID number (GB 11643-1999) is malformed; ``part`` says where."""

    code = "ID_NUMBER_INVALID"
    default_message = "The ID number is not valid."
    detail_key = "part"
    messages: ClassVar[Mapping[str, str]] = {
        "length": "The ID number must have 18 characters (or 15 digits for a "
        "first-generation number).",
        "format": "The ID number may contain only digits, with an X allowed only as "
        "the last character of an 18-character number.",
        "checksum": "The check character at the end of the ID number does not match "
        "the other digits; one of them is probably mistyped.",
        "birth_date": "The birth date encoded in the ID number is not possible.",
        "region": "The region code at the start of the ID number is not a known "
        "administrative division.",
    }

    def __init__(self, part: IdNumberPart, message: str | None = None) -> None:
        super().__init__(part, message)

    @property
    def part(self) -> IdNumberPart:
        part: IdNumberPart = self.details["part"]
        return part


class NameInvalid(IdentityError):
    """The name holds something no name in the population registry can hold."""

    code = "NAME_INVALID"
    default_message = "The name is not valid."
    messages: ClassVar[Mapping[str, str]] = {
        "empty": "The name is empty.",
        "too_long": "The name is longer than any name the registry holds.",
        "control_character": "The name contains invisible control characters.",
        "digits": "The name contains digits.",
        "forbidden_character": "The name contains punctuation, a symbol or an emoji; "
        "only Chinese characters and the middle dot (·) are allowed.",
        "latin_script": "The name is written in Latin letters; the registry holds "
        "names in Chinese characters.",
        "mixed_script": "The name mixes Chinese characters with letters of another script.",
        "non_han_script": "The name is not written in Chinese characters.",
    }

    def __init__(self, reason: NameReason, message: str | None = None) -> None:
        super().__init__(reason, message)

    @property
    def reason(self) -> NameReason:
        reason: NameReason = self.details["reason"]
        return reason


class PhoneInvalid(IdentityError):
    """The phone number is not a mainland China mobile number."""

    code = "PHONE_INVALID"
    default_message = "The phone number is not a mainland mobile number."
    messages: ClassVar[Mapping[str, str]] = {
        "not_a_number": "The phone number cannot be read as a telephone number.",
        "not_mainland": "The phone number belongs to a country or region other than "
        "mainland China.",
        "not_mobile": "The phone number is not a mobile number (it may be a landline, "
        "a service number or incomplete).",
        "unknown_range": "The phone number looks like a mobile number, but its "
        "prefix is not allocated to any mainland carrier.",
    }

    def __init__(self, reason: PhoneReason, message: str | None = None) -> None:
        super().__init__(reason, message)

    @property
    def reason(self) -> PhoneReason:
        reason: PhoneReason = self.details["reason"]
        return reason


class BankCardInvalid(IdentityError):
    """The bank card number (PAN) is malformed or from no known issuer."""

    code = "BANK_CARD_INVALID"
    default_message = "The bank card number is not valid."
    messages: ClassVar[Mapping[str, str]] = {
        "length": "The bank card number must have between 12 and 19 digits.",
        "format": "The bank card number may contain only digits.",
        "checksum": "The last digit of the bank card number does not match the "
        "others (Luhn check); one of them is probably mistyped.",
        "unknown_issuer": "The first digits of the bank card number belong to no "
        "known card issuer.",
    }

    def __init__(self, reason: BankCardReason, message: str | None = None) -> None:
        super().__init__(reason, message)

    @property
    def reason(self) -> BankCardReason:
        reason: BankCardReason = self.details["reason"]
        return reason
