"""Evidence: everything the diagnosis may use, as plain data.

DESIGN §4: a diagnosis uses only what real providers return plus the platform's own
history — never the sandbox's ground truth. :class:`Evidence` is exactly that: the
submission as validated locally, each provider answer (or the fact that a provider
did not answer), whether the user proved possession of the phone by SMS code, and the
platform's history of this account and identity. It is built up round by round by
the orchestrator and read by the pure functions of :mod:`.planner` and
:mod:`.diagnosis`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from realname.authorities.errors import ProviderUnavailable
from realname.authorities.protocol import (
    BankCardAnswer,
    CarrierLookupAnswer,
    CarrierThreeElementAnswer,
    Check,
    FaceCapture,
    FaceCompareAnswer,
    FaceLivenessAnswer,
    IdTwoElementAnswer,
    IdValidityAnswer,
    PhoneRecycledAnswer,
    PhoneStatusAnswer,
    PhoneTenureAnswer,
    SimSwapAnswer,
)
from realname.verification.levels import Level
from realname.verification.policy import ProductPolicy

CONSENT_KINDS = ("id", "phone", "bank_card", "face")


@dataclass(frozen=True)
class Unavailable:
    """A provider that gave no answer: never a mismatch (DESIGN §4)."""

    check: Check
    reason: str
    raw_code: str | None = None
    request_id: str | None = None
    provider: str = "unknown"

    @classmethod
    def of(cls, error: ProviderUnavailable) -> Unavailable:
        return cls(
            error.check, error.reason.value, error.raw_code, error.request_id, error.provider
        )


class Possession(StrEnum):
    """Whether the user proved, by SMS code, that they hold the submitted phone."""

    PROVEN = "proven"
    PENDING = "pending"  # a code was sent and not yet answered
    UNDELIVERABLE = "undeliverable"  # the gateway could not deliver a code
    FAILED = "failed"  # wrong codes until the attempt limit
    NOT_ASKED = "not_asked"


@dataclass(frozen=True)
class Submission:
    """What the user submitted, after local normalisation (validated elements only).

    An element that failed local validation is ``None`` here and listed in
    :attr:`Evidence.local_errors`.
    """

    name: str | None = None
    #: True when normalisation (separators, spaces, NFKC) changed the typed name.
    name_normalised: bool = False
    id_number: str | None = None
    phone: str | None = None
    #: The carrier the phone's number block belongs to (by allocation, before porting).
    phone_block_carrier: str | None = None
    bank_card: str | None = None
    face: FaceCapture | None = None
    consent: frozenset[str] = frozenset(CONSENT_KINDS)
    age: int | None = None


@dataclass(frozen=True)
class PriorVerification:
    """This account was verified before: when, to what level, and on which phone.

    ``same_phone`` says whether the phone bound then is the phone submitted now
    (compared by blind index, so no plaintext phone needs to be kept for it).
    """

    same_phone: bool
    verified_on: date
    level: Level


@dataclass(frozen=True)
class OtherAccount:
    """Another account on which the same identity (by blind index) is verified."""

    account_id: str
    level: Level
    #: The user proved control of it (answered an SMS code sent to its phone).
    controlled: bool = False


@dataclass(frozen=True)
class History:
    prior: PriorVerification | None = None
    others: tuple[OtherAccount, ...] = ()
    locked_until: datetime | None = None
    under_review: bool = False


Answer2E = IdTwoElementAnswer | Unavailable


@dataclass(frozen=True)
class Evidence:
    policy: ProductPolicy
    today: date
    submission: Submission
    #: element → (cause code, detail) for elements that failed local validation.
    local_errors: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    history: History = field(default_factory=History)
    possession: Possession = Possession.NOT_ASKED
    id_two_element: Answer2E | None = None
    #: (variant name, answer) for each character/separator variant tried.
    name_variants: tuple[tuple[str, Answer2E], ...] = ()
    id_validity: IdValidityAnswer | Unavailable | None = None
    carrier_lookup: CarrierLookupAnswer | Unavailable | None = None
    three_element: CarrierThreeElementAnswer | Unavailable | None = None
    #: The carrier the three-element check was routed to.
    three_element_carrier: str | None = None
    phone_status: PhoneStatusAnswer | Unavailable | None = None
    phone_tenure: PhoneTenureAnswer | Unavailable | None = None
    sim_swap: SimSwapAnswer | Unavailable | None = None
    phone_recycled: PhoneRecycledAnswer | Unavailable | None = None
    bank_card: BankCardAnswer | Unavailable | None = None
    face_liveness: FaceLivenessAnswer | Unavailable | None = None
    face_compare: FaceCompareAnswer | Unavailable | None = None
