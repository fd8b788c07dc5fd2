"""Cause codes (DESIGN §4): the stable answer to "why am I not verified?".

Codes are an API like HTTP statuses: add, never rename. Each carries a severity and
optional parameters (which part of an ID is wrong, until when attempts are locked);
its words and remedies live in the catalogue, not here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    BLOCKING = "blocking"
    WARNING = "warning"
    INFO = "info"


class CauseCode(StrEnum):
    ID_NUMBER_INVALID = "ID_NUMBER_INVALID"
    NAME_INVALID = "NAME_INVALID"
    PHONE_INVALID = "PHONE_INVALID"
    BANK_CARD_INVALID = "BANK_CARD_INVALID"
    AGE_INELIGIBLE = "AGE_INELIGIBLE"
    NAME_ID_MISMATCH = "NAME_ID_MISMATCH"
    NAME_CHARACTER_VARIANT = "NAME_CHARACTER_VARIANT"
    ID_NOT_FOUND = "ID_NOT_FOUND"
    ID_EXPIRED = "ID_EXPIRED"
    PHONE_NOT_REAL_NAME = "PHONE_NOT_REAL_NAME"
    PHONE_OWNED_BY_OTHER = "PHONE_OWNED_BY_OTHER"
    PHONE_RECYCLED = "PHONE_RECYCLED"
    PHONE_SUSPENDED = "PHONE_SUSPENDED"
    PHONE_CANCELLED = "PHONE_CANCELLED"
    PHONE_PORTED = "PHONE_PORTED"
    SIM_RECENTLY_CHANGED = "SIM_RECENTLY_CHANGED"
    BANK_CARD_PHONE_MISMATCH = "BANK_CARD_PHONE_MISMATCH"
    BANK_CARD_NOT_OWNED = "BANK_CARD_NOT_OWNED"
    BANK_CARD_INACTIVE = "BANK_CARD_INACTIVE"
    FACE_QUALITY = "FACE_QUALITY"
    FACE_LIVENESS_FAILED = "FACE_LIVENESS_FAILED"
    FACE_MISMATCH = "FACE_MISMATCH"
    STEPS_INCOMPLETE = "STEPS_INCOMPLETE"
    DUPLICATE_ACCOUNT = "DUPLICATE_ACCOUNT"
    IDENTITY_IN_USE = "IDENTITY_IN_USE"
    CONSENT_MISSING = "CONSENT_MISSING"
    PROVIDER_UNAVAILABLE = "PROVIDER_UNAVAILABLE"
    ATTEMPTS_LOCKED = "ATTEMPTS_LOCKED"
    UNDER_REVIEW = "UNDER_REVIEW"
    # A reviewer's decision, shown over the stored result (realname.ops.outcome).
    REVIEW_APPROVED = "REVIEW_APPROVED"
    RESUBMIT_REQUESTED = "RESUBMIT_REQUESTED"
    REVIEW_REJECTED = "REVIEW_REJECTED"


# The order in which causes of equal severity are listed: the one a user should act
# on first comes first (local typos before registry answers before the phone, …).
CODE_ORDER: dict[CauseCode, int] = {code: index for index, code in enumerate(CauseCode)}
SEVERITY_ORDER = {Severity.BLOCKING: 0, Severity.WARNING: 1, Severity.INFO: 2}


@dataclass(frozen=True)
class Cause:
    """One reason, with parameters that never hold personal data (parts, dates, kinds)."""

    code: CauseCode
    severity: Severity
    params: dict[str, Any] = field(default_factory=dict)

    def sort_key(self) -> tuple[int, int]:
        return SEVERITY_ORDER[self.severity], CODE_ORDER[self.code]


def ordered(causes: list[Cause]) -> list[Cause]:
    """Blocking causes first, then warnings, then information; one entry per code."""
    seen: dict[CauseCode, Cause] = {}
    for cause in sorted(causes, key=Cause.sort_key):
        seen.setdefault(cause.code, cause)
    return list(seen.values())
