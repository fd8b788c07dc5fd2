"""Intake: local validation of what the user typed, before any provider is asked.

Turns raw input into a :class:`~realname.verification.evidence.Submission` of
normalised elements (18-digit ID numbers, 11-digit phones, digits-only cards,
registry-form names) plus the local errors, each with its stable code and detail
(which part of the ID number is wrong). Pure: the identity package does the work.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from realname.authorities.protocol import FaceCapture
from realname.identity import bank_card, id_number, name, phone
from realname.identity.errors import IdentityError
from realname.verification.evidence import CONSENT_KINDS, Submission


@dataclass(frozen=True)
class RawSubmission:
    """Elements as typed; ``None`` means not submitted."""

    name: str | None = None
    id_number: str | None = None
    phone: str | None = None
    bank_card: str | None = None
    face: FaceCapture | None = None
    consent: frozenset[str] = frozenset(CONSENT_KINDS)


def prepare(raw: RawSubmission, today: date) -> tuple[Submission, dict[str, tuple[str, str]]]:
    """Normalise and validate each element; invalid ones are reported, not submitted."""
    errors: dict[str, tuple[str, str]] = {}

    def attempt(element: str, value: str | None, parse: Callable[[str], str]) -> str | None:
        if value is None:
            return None
        try:
            return parse(value)
        except IdentityError as error:
            errors[element] = (error.code, error.detail)
            return None

    registry_name = attempt("name", raw.name, name.validate)
    id18 = attempt("id_number", raw.id_number, lambda v: id_number.validate(v, today=today))
    mobile = attempt("phone", raw.phone, phone.validate)
    card = attempt("bank_card", raw.bank_card, bank_card.validate)
    return (
        Submission(
            name=registry_name,
            name_normalised=registry_name is not None and registry_name != raw.name,
            id_number=id18,
            phone=mobile,
            phone_block_carrier=phone.get_carrier(mobile) if mobile else None,
            bank_card=card,
            face=raw.face,
            consent=raw.consent,
            age=id_number.get_age(id18, today) if id18 else None,
        ),
        errors,
    )
