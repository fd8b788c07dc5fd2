"""Local inspection of submitted identity elements, before any paid provider call.

DESIGN §4 asks that an invalid ID number, name, phone or card be caught before an
authority is asked (and billed), and that the user be told which part is wrong. This
module runs every parser on whatever elements were submitted and reports, per field,
either the normalised and masked value with what can be derived from it, or the
error's stable code and detail. It never returns an unmasked value.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from realname.identity import bank_card, id_number, name, phone
from realname.identity.errors import IdentityError


@dataclass(frozen=True)
class FieldReport:
    """The verdict on one submitted element: valid with facts, or the error."""

    valid: bool
    masked: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    code: str | None = None
    detail: str | None = None
    message: str | None = None

    @classmethod
    def failed(cls, error: IdentityError) -> FieldReport:
        return cls(valid=False, code=error.code, detail=error.detail, message=error.message)


def inspect_id_number(value: str, today: datetime.date) -> FieldReport:
    try:
        number = id_number.validate(value, today=today)
    except IdentityError as error:
        return FieldReport.failed(error)
    return FieldReport(
        valid=True,
        masked=id_number.mask(number),
        facts={
            "document_kind": id_number.get_document_kind(number),
            "age": id_number.get_age(number, today),
            "upgraded_from_15_digits": len(id_number.compact(value)) == 15,
        },
    )


def inspect_name(value: str) -> FieldReport:
    try:
        normalised = name.validate(value)
    except IdentityError as error:
        return FieldReport.failed(error)
    return FieldReport(
        valid=True,
        masked=name.mask(normalised),
        facts={
            "normalised_differs": normalised != value,
            "variant_count": len(name.variants(value)),
        },
    )


def inspect_phone(value: str) -> FieldReport:
    try:
        number = phone.parse(value)
    except IdentityError as error:
        return FieldReport.failed(error)
    return FieldReport(
        valid=True,
        masked=phone.mask(number.national),
        facts={
            "carrier": number.carrier,
            "is_virtual": number.is_virtual,
            "home_province": number.home_province,
            "home_city": number.home_city,
        },
    )


def inspect_bank_card(value: str) -> FieldReport:
    try:
        number = bank_card.validate(value)
        issuer = bank_card.get_issuer(number)
    except IdentityError as error:
        return FieldReport.failed(error)
    return FieldReport(
        valid=True,
        masked=bank_card.mask(number),
        facts={
            "bank_code": issuer.bank_code,
            "bank_name_zh": issuer.name_zh,
            "bank_name_en": issuer.name_en,
            "card_type": issuer.card_type,
        },
    )


def inspect_elements(
    *,
    today: datetime.date,
    name_value: str | None = None,
    id_number_value: str | None = None,
    phone_value: str | None = None,
    bank_card_value: str | None = None,
) -> dict[str, FieldReport]:
    """Inspect each submitted element; elements not submitted are left out."""
    reports: dict[str, FieldReport] = {}
    if name_value is not None:
        reports["name"] = inspect_name(name_value)
    if id_number_value is not None:
        reports["id_number"] = inspect_id_number(id_number_value, today)
    if phone_value is not None:
        reports["phone"] = inspect_phone(phone_value)
    if bank_card_value is not None:
        reports["bank_card"] = inspect_bank_card(bank_card_value)
    return reports
