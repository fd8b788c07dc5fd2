"""The diagnosis: from evidence to an assurance level and the exact causes.

A pure function (no I/O) from :class:`~realname.verification.evidence.Evidence` —
what real providers answered plus the platform's own history — to the level reached
and the ordered cause list of DESIGN §4. It names the most specific explanation, not
every symptom:

- PHONE_RECYCLED replaces PHONE_OWNED_BY_OTHER;
- PHONE_SUSPENDED and PHONE_CANCELLED replace PHONE_NOT_REAL_NAME and
  PHONE_OWNED_BY_OTHER;
- NAME_CHARACTER_VARIANT replaces NAME_ID_MISMATCH;
- a local ID_NUMBER_INVALID or AGE_INELIGIBLE stops before any provider is asked;
- a provider that did not answer is PROVIDER_UNAVAILABLE, never a mismatch.

Independent facts are all listed: a phone registered to someone else and a bank card
whose reserved phone differs are two causes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TypeVar

from realname.authorities.protocol import (
    BankCardOutcome,
    CarrierLookupOutcome,
    CarrierThreeElementOutcome,
    FaceCompareOutcome,
    FaceLivenessOutcome,
    FaceQualityIssue,
    IdTwoElementOutcome,
    IdValidityOutcome,
    PhoneRecycledOutcome,
    PhoneStatusOutcome,
    PhoneTenureOutcome,
)
from realname.verification.catalogue import Catalogue, get_catalogue
from realname.verification.causes import Cause, CauseCode, Severity, ordered
from realname.verification.evidence import Evidence, Possession, Unavailable
from realname.verification.levels import Level

#: Local error codes as cause codes (the identity package uses the same names).
_LOCAL_CODES = {
    "name": CauseCode.NAME_INVALID,
    "id_number": CauseCode.ID_NUMBER_INVALID,
    "phone": CauseCode.PHONE_INVALID,
    "bank_card": CauseCode.BANK_CARD_INVALID,
}
#: Elements whose local failure stops the diagnosis before any provider call.
_STOPPING_ELEMENTS = ("name", "id_number")


class FactorState:
    """States a factor can be in, as the status page shows them."""

    PASSED = "passed"
    FAILED = "failed"
    PENDING = "pending"
    UNAVAILABLE = "unavailable"
    NOT_STARTED = "not_started"
    NOT_NEEDED = "not_needed"


@dataclass(frozen=True)
class Diagnosis:
    level: Level
    needed: Level
    causes: tuple[Cause, ...]
    #: Per factor (id_two_element, phone, bank_card, face): a FactorState value.
    factors: dict[str, str] = field(default_factory=dict)
    #: The name the registry accepted, when it differs from the one typed.
    registry_name: str | None = None

    @property
    def codes(self) -> list[str]:
        return [cause.code.value for cause in self.causes]

    @property
    def verified(self) -> bool:
        return self.level >= self.needed


# ----------------------------------------------------------------- derived facts


AnswerT = TypeVar("AnswerT")


def answered(value: AnswerT | Unavailable | None) -> AnswerT | None:
    """The provider's answer, or ``None`` when it was not asked or did not answer."""
    return None if value is None or isinstance(value, Unavailable) else value


def accepted_name(evidence: Evidence) -> str | None:
    """The name the registry accepted: the submitted (normalised) one or a variant."""
    answer = answered(evidence.id_two_element)
    if answer is not None and answer.outcome is IdTwoElementOutcome.CONSISTENT:
        return evidence.submission.name
    for variant, variant_answer in evidence.name_variants:
        found = answered(variant_answer)
        if found is not None and found.outcome is IdTwoElementOutcome.CONSISTENT:
            return variant
    return None


def age_ineligible(evidence: Evidence) -> bool:
    """The ID's birth date puts the user outside the product's age range."""
    age, policy = evidence.submission.age, evidence.policy
    return age is not None and not policy.min_age <= age <= policy.max_age


def id_expired(evidence: Evidence) -> bool:
    answer = answered(evidence.id_validity)
    return answer is not None and answer.outcome is IdValidityOutcome.EXPIRED


def l1_reached(evidence: Evidence) -> bool:
    validity_ok = answered(evidence.id_validity) is not None
    return accepted_name(evidence) is not None and validity_ok and not id_expired(evidence)


def routing_carrier(evidence: Evidence) -> str | None:
    """The carrier to ask for the three-element check: after porting, if known."""
    lookup = answered(evidence.carrier_lookup)
    if lookup is not None and lookup.outcome is CarrierLookupOutcome.FOUND and lookup.carrier:
        return lookup.carrier.value
    return evidence.submission.phone_block_carrier


def three_element_consistent(evidence: Evidence) -> bool:
    answer = answered(evidence.three_element)
    return answer is not None and answer.outcome is CarrierThreeElementOutcome.CONSISTENT


def card_consistent(evidence: Evidence) -> bool:
    answer = answered(evidence.bank_card)
    return answer is not None and answer.outcome is BankCardOutcome.CONSISTENT


def bound_channel_reached(evidence: Evidence) -> bool:
    """L2's bound channel: carrier or card check consistent, and the phone proven held."""
    proven = evidence.possession is Possession.PROVEN
    return proven and (three_element_consistent(evidence) or card_consistent(evidence))


def network_entry_after(evidence: Evidence, day: date) -> bool | None:
    """Did the current holder get the number after ``day``? From the tenure bucket.

    A tenure of fewer than N months means the holder got the number after
    ``today - N months``; if that lies after ``day``, the number changed hands since.
    ``None`` when the tenure does not settle it.
    """
    tenure = answered(evidence.phone_tenure)
    if (
        tenure is None
        or tenure.outcome is not PhoneTenureOutcome.FOUND
        or tenure.max_months is None
    ):
        return None
    earliest_entry = _months_before(evidence.today, tenure.max_months)
    if earliest_entry > day:
        return True
    if tenure.min_months is not None and _months_before(evidence.today, tenure.min_months) <= day:
        return False
    return None


def _months_before(day: date, months: int) -> date:
    month_index = day.year * 12 + day.month - 1 - months
    year, month = divmod(month_index, 12)
    # Clamp the day for short months (31 March minus one month is 28/29 February).
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month + 1, candidate)
        except ValueError:
            continue
    raise AssertionError("unreachable")


# ------------------------------------------------------------------- diagnosis


class _Causes:
    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self.items: list[Cause] = []
        self.consent_kinds: list[str] = []

    def add(self, code: CauseCode, severity: Severity | None = None, **params: object) -> None:
        cause = self.catalogue.cause(code, **params)
        if severity is not None:
            cause = Cause(code=code, severity=severity, params=cause.params)
        self.items.append(cause)

    def unavailable(self, answer: Unavailable) -> None:
        self.add(CauseCode.PROVIDER_UNAVAILABLE, check=answer.check.value, reason=answer.reason)

    def consent(self, kind: str) -> None:
        if kind not in self.consent_kinds:
            self.consent_kinds.append(kind)

    def blocking(self) -> bool:
        return any(cause.severity is Severity.BLOCKING for cause in self.items) or bool(
            self.consent_kinds
        )

    def result(self) -> list[Cause]:
        if self.consent_kinds:
            self.add(CauseCode.CONSENT_MISSING, kinds=list(self.consent_kinds))
        return ordered(self.items)


def diagnose(
    evidence: Evidence, *, now: datetime | None = None, catalogue: Catalogue | None = None
) -> Diagnosis:
    """The level reached and the ordered causes, from evidence alone."""
    causes = _Causes(catalogue or get_catalogue())
    policy = evidence.policy
    submission = evidence.submission
    factors: dict[str, str] = {
        "id_two_element": FactorState.NOT_STARTED,
        "phone": FactorState.NOT_STARTED,
        "bank_card": FactorState.NOT_STARTED,
        "face": FactorState.NOT_NEEDED if policy.level < Level.L3 else FactorState.NOT_STARTED,
    }

    def finish(level: Level) -> Diagnosis:
        if level < policy.level and not causes.blocking():
            causes.add(
                CauseCode.STEPS_INCOMPLETE,
                needed=str(policy.level),
                level=str(level),
                missing=_missing_factors(evidence, level),
            )
        name = accepted_name(evidence)
        found = causes.result()
        if level >= policy.level:
            # Nothing blocks a user who reached the level the product needs: what
            # failed on the way (a parent's phone beside a working card) is a warning.
            found = [_soften(cause) for cause in found]
        return Diagnosis(
            level=level,
            needed=policy.level,
            causes=tuple(found),
            factors=factors,
            registry_name=name if name is not None and name != submission.name else None,
        )

    history = evidence.history
    if history.under_review:
        causes.add(CauseCode.UNDER_REVIEW)
    if history.locked_until is not None and (now is None or history.locked_until > now):
        causes.add(CauseCode.ATTEMPTS_LOCKED, until=history.locked_until.isoformat())
        return finish(Level.L0)

    # 1. Local validation: no provider is asked about a malformed name or ID number.
    for element, (_code, detail) in evidence.local_errors.items():
        code = _LOCAL_CODES[element]
        if code is CauseCode.ID_NUMBER_INVALID:
            causes.add(code, part=detail)
        else:
            causes.add(code, reason=detail)
    if any(element in evidence.local_errors for element in _STOPPING_ELEMENTS):
        factors["id_two_element"] = FactorState.FAILED
        return finish(Level.L0)
    if age_ineligible(evidence):
        causes.add(CauseCode.AGE_INELIGIBLE, min_age=policy.min_age, max_age=policy.max_age)
        return finish(Level.L0)
    if submission.name is None or submission.id_number is None:
        return finish(Level.L0)
    if "id" not in submission.consent:
        causes.consent("id")
        return finish(Level.L0)

    # 2. L1: the registry's two-element answer, repaired by name variants.
    if not _diagnose_id(evidence, causes, factors):
        return finish(Level.L0)
    level = Level.L1

    # 3. L2: the carrier path and the bank-card path, each with its own causes.
    _diagnose_phone(evidence, causes, factors)
    _diagnose_card(evidence, causes, factors)
    if bound_channel_reached(evidence):
        level = Level.L2

    # 4. The same identity verified on another account.
    if history.others:
        if level >= Level.L2 or any(other.controlled for other in history.others):
            causes.add(CauseCode.DUPLICATE_ACCOUNT, accounts=len(history.others))
        elif FactorState.UNAVAILABLE not in (factors["phone"], factors["bank_card"]):
            # Only once the user's own channel has been judged: while an authority
            # is down they may yet prove the identity is theirs.
            causes.add(CauseCode.IDENTITY_IN_USE)

    # 5. L3: face liveness and comparison, once L2 holds and the product needs it.
    if level >= Level.L2 and policy.level >= Level.L3 and _diagnose_face(
        evidence, causes, factors
    ):
        level = Level.L3
    return finish(level)


def _soften(cause: Cause) -> Cause:
    if cause.severity is Severity.BLOCKING:
        return Cause(code=cause.code, severity=Severity.WARNING, params=cause.params)
    return cause


def _diagnose_id(evidence: Evidence, causes: _Causes, factors: dict[str, str]) -> bool:
    answer = evidence.id_two_element
    validity = evidence.id_validity
    if answer is None:
        return False
    if isinstance(answer, Unavailable):
        causes.unavailable(answer)
        factors["id_two_element"] = FactorState.UNAVAILABLE
        return False
    name = accepted_name(evidence)
    if name is None:
        factors["id_two_element"] = FactorState.FAILED
        variants_unavailable = [a for _, a in evidence.name_variants if isinstance(a, Unavailable)]
        if answer.outcome is IdTwoElementOutcome.NO_RECORD:
            causes.add(CauseCode.ID_NOT_FOUND)
        elif answer.outcome is IdTwoElementOutcome.INVALID_INPUT:
            element = answer.invalid_element.value if answer.invalid_element else "id_number"
            if element == "name":
                causes.add(CauseCode.NAME_INVALID, reason="registry_rejected")
            else:
                causes.add(CauseCode.ID_NUMBER_INVALID, part="registry_rejected")
        elif variants_unavailable:
            causes.unavailable(variants_unavailable[0])
            factors["id_two_element"] = FactorState.UNAVAILABLE
        else:
            causes.add(CauseCode.NAME_ID_MISMATCH)
        return False
    if name != evidence.submission.name or evidence.submission.name_normalised:
        causes.add(CauseCode.NAME_CHARACTER_VARIANT)
    if isinstance(validity, Unavailable):
        causes.unavailable(validity)
        factors["id_two_element"] = FactorState.UNAVAILABLE
        return False
    if validity is None:
        factors["id_two_element"] = FactorState.PENDING
        return False
    if validity.outcome is IdValidityOutcome.EXPIRED:
        causes.add(CauseCode.ID_EXPIRED)
        factors["id_two_element"] = FactorState.FAILED
        return False
    factors["id_two_element"] = FactorState.PASSED
    return True


def _phone_status(evidence: Evidence) -> PhoneStatusOutcome | None:
    status = answered(evidence.phone_status)
    return status.outcome if status is not None else None


def _explain_status(evidence: Evidence, causes: _Causes) -> bool:
    """Add PHONE_SUSPENDED / PHONE_CANCELLED when the status says so.

    When the status check itself did not answer, the most specific explanation is
    not known yet: PROVIDER_UNAVAILABLE (the re-run completes it), never a guess.
    """
    if isinstance(evidence.phone_status, Unavailable):
        causes.unavailable(evidence.phone_status)
        return True
    status = _phone_status(evidence)
    if status is PhoneStatusOutcome.SUSPENDED:
        causes.add(CauseCode.PHONE_SUSPENDED)
        return True
    if status in (PhoneStatusOutcome.CANCELLED, PhoneStatusOutcome.NOT_IN_NETWORK):
        causes.add(CauseCode.PHONE_CANCELLED)
        return True
    return False


def phone_recycled(evidence: Evidence) -> bool:
    """The number was verified to this account before and re-issued since."""
    prior = evidence.history.prior
    if prior is None or not prior.same_phone:
        return False
    answer = answered(evidence.phone_recycled)
    if answer is not None:
        return answer.outcome is PhoneRecycledOutcome.RECYCLED
    return network_entry_after(evidence, prior.verified_on) is True


def _diagnose_phone(evidence: Evidence, causes: _Causes, factors: dict[str, str]) -> None:
    submission = evidence.submission
    if submission.phone is None:
        if "phone" in evidence.local_errors:
            factors["phone"] = FactorState.FAILED
        return
    if "phone" not in submission.consent:
        causes.consent("phone")
        return
    lookup = evidence.carrier_lookup
    found = answered(lookup)
    if found is not None and found.ported and found.carrier is not None:
        causes.add(
            CauseCode.PHONE_PORTED,
            carrier=found.carrier.value,
            ported_from=submission.phone_block_carrier or "unknown",
        )
    answer = evidence.three_element
    if answer is None:
        factors["phone"] = FactorState.NOT_STARTED
        return
    if isinstance(answer, Unavailable):
        causes.unavailable(answer)
        factors["phone"] = FactorState.UNAVAILABLE
        return
    if answer.outcome is CarrierThreeElementOutcome.CONSISTENT:
        _diagnose_possession(evidence, causes, factors)
        swap = answered(evidence.sim_swap)
        if swap is not None and swap.swapped:
            causes.add(CauseCode.SIM_RECENTLY_CHANGED, within_days=swap.max_age_days)
        return
    factors["phone"] = FactorState.FAILED
    if _explain_status(evidence, causes):
        return
    if answer.outcome is CarrierThreeElementOutcome.NO_RECORD:
        if isinstance(lookup, Unavailable):
            # Without the carrier lookup a ported number, asked of the carrier it
            # left, also has "no record": that is the outage speaking, not the user.
            causes.unavailable(lookup)
            factors["phone"] = FactorState.UNAVAILABLE
        else:
            causes.add(CauseCode.PHONE_NOT_REAL_NAME)
    elif answer.outcome is CarrierThreeElementOutcome.INCONSISTENT:
        if phone_recycled(evidence):
            causes.add(CauseCode.PHONE_RECYCLED)
        elif isinstance(evidence.phone_recycled, Unavailable):
            causes.unavailable(evidence.phone_recycled)
        else:
            mismatch = answer.mismatch.value if answer.mismatch else "unknown"
            causes.add(CauseCode.PHONE_OWNED_BY_OTHER, mismatch=mismatch)
    elif answer.outcome is CarrierThreeElementOutcome.INVALID_INPUT:
        causes.add(CauseCode.PHONE_INVALID, reason="carrier_rejected")
    else:
        # The carrier cannot verify this number block (some virtual operators'):
        # the bank-card path remains.
        factors["phone"] = FactorState.NOT_STARTED


def _diagnose_possession(evidence: Evidence, causes: _Causes, factors: dict[str, str]) -> None:
    possession = evidence.possession
    if possession is Possession.PROVEN:
        factors["phone"] = FactorState.PASSED
    elif possession is Possession.PENDING or possession is Possession.NOT_ASKED:
        factors["phone"] = FactorState.PENDING
    else:
        factors["phone"] = FactorState.FAILED
        if not _explain_status(evidence, causes) and possession is Possession.FAILED:
            causes.add(CauseCode.STEPS_INCOMPLETE, missing=["sms_otp"])


def _diagnose_card(evidence: Evidence, causes: _Causes, factors: dict[str, str]) -> None:
    submission = evidence.submission
    if submission.bank_card is None:
        if "bank_card" in evidence.local_errors:
            factors["bank_card"] = FactorState.FAILED
        return
    if "bank_card" not in submission.consent:
        causes.consent("bank_card")
        return
    answer = evidence.bank_card
    if answer is None:
        return
    if isinstance(answer, Unavailable):
        causes.unavailable(answer)
        factors["bank_card"] = FactorState.UNAVAILABLE
        return
    if answer.outcome is BankCardOutcome.CONSISTENT:
        factors["bank_card"] = (
            FactorState.PASSED
            if evidence.possession is Possession.PROVEN
            else FactorState.PENDING
        )
        return
    factors["bank_card"] = FactorState.FAILED
    if answer.outcome is BankCardOutcome.INCONSISTENT:
        causes.add(CauseCode.BANK_CARD_PHONE_MISMATCH)
    elif answer.outcome is BankCardOutcome.HOLDER_MISMATCH:
        causes.add(CauseCode.BANK_CARD_NOT_OWNED)
    elif answer.outcome is BankCardOutcome.CARD_UNUSABLE:
        status = answer.card_status.value if answer.card_status else "unusable"
        causes.add(CauseCode.BANK_CARD_INACTIVE, card_status=status)
    elif answer.outcome is BankCardOutcome.INVALID_INPUT:
        causes.add(CauseCode.BANK_CARD_INVALID, reason="bank_rejected")
    else:
        causes.add(CauseCode.BANK_CARD_INACTIVE, card_status="unusable")


_QUALITY_REASONS = {
    FaceQualityIssue.NO_FACE: "no_face",
    FaceQualityIssue.MULTIPLE_FACES: "multiple_faces",
    FaceQualityIssue.POOR_QUALITY: "poor_quality",
}


def _diagnose_face(evidence: Evidence, causes: _Causes, factors: dict[str, str]) -> bool:
    submission = evidence.submission
    if "face" not in submission.consent:
        causes.consent("face")
        return False
    if submission.face is None:
        factors["face"] = FactorState.NOT_STARTED
        return False
    liveness, compare = evidence.face_liveness, evidence.face_compare
    if isinstance(liveness, Unavailable) or isinstance(compare, Unavailable):
        unavailable = liveness if isinstance(liveness, Unavailable) else compare
        assert isinstance(unavailable, Unavailable)
        causes.unavailable(unavailable)
        factors["face"] = FactorState.UNAVAILABLE
        return False
    if liveness is None or compare is None:
        factors["face"] = FactorState.PENDING
        return False
    factors["face"] = FactorState.FAILED
    if liveness.outcome is FaceLivenessOutcome.QUALITY:
        issue = liveness.quality_issue or FaceQualityIssue.POOR_QUALITY
        causes.add(CauseCode.FACE_QUALITY, face_reason=_QUALITY_REASONS[issue])
        return False
    if liveness.outcome is FaceLivenessOutcome.NOT_LIVE:
        causes.add(CauseCode.FACE_LIVENESS_FAILED, tag=liveness.reason_tag or "")
        return False
    if compare.outcome is FaceCompareOutcome.MATCH:
        factors["face"] = FactorState.PASSED
        return True
    if compare.outcome is FaceCompareOutcome.QUALITY:
        issue = compare.quality_issue or FaceQualityIssue.POOR_QUALITY
        causes.add(CauseCode.FACE_QUALITY, face_reason=_QUALITY_REASONS[issue])
    elif compare.outcome in (FaceCompareOutcome.NO_PORTRAIT, FaceCompareOutcome.NO_RECORD):
        # The registry has no portrait to compare with: only a person can decide.
        causes.add(CauseCode.UNDER_REVIEW, reason="no_portrait")
    else:
        causes.add(CauseCode.FACE_MISMATCH, similarity=compare.similarity)
    return False


def _missing_factors(evidence: Evidence, level: Level) -> list[str]:
    submission = evidence.submission
    missing: list[str] = []
    if level < Level.L1:
        missing.append("id_two_element")
    needed = evidence.policy.level
    if level < Level.L2 <= needed:
        if evidence.possession in (Possession.PENDING, Possession.FAILED) and (
            three_element_consistent(evidence) or card_consistent(evidence)
        ):
            missing.append("sms_otp")
        elif submission.phone is None and submission.bank_card is None:
            missing.append("bound_channel")
        elif submission.bank_card is None:
            missing.append("bank_card")
        else:
            missing.append("bound_channel")
    if level < Level.L3 <= needed:
        missing.append("face")
    return missing
