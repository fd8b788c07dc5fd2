"""Which provider calls to make next: a pure function of the evidence so far.

The orchestration rules of DESIGN §4 and the verification-engine issue, in one place:

- local validation first: nothing is asked about an invalid or ineligible identity;
- the cheapest decisive check next, independent checks in parallel: round 1 asks
  the registry (two-element and document validity) and, when a phone path is
  needed, where the number is served (a ported number must be asked of its new
  carrier); round 2 the carrier three-element and SIM-swap checks and the
  bank-card four-element check together — so L2 takes at most two round trips;
- no paid call that cannot change the outcome: phone checks only when the product
  needs L2, face checks only once L2 holds and the product needs L3, phone status
  and the re-issued-number check only to explain a failed phone check;
- self-repair: a name the registry rejects is retried in its simplified-character
  and separator variants.

:func:`plan` returns the calls for the next round, or nothing when the evidence is
complete; the orchestrator runs them in parallel and plans again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from realname.authorities.protocol import (
    Carrier,
    CarrierThreeElementOutcome,
    Check,
    IdTwoElementOutcome,
)
from realname.identity import name as names
from realname.verification.diagnosis import (
    accepted_name,
    age_ineligible,
    answered,
    bound_channel_reached,
    l1_reached,
    network_entry_after,
    routing_carrier,
)
from realname.verification.evidence import Evidence, Possession
from realname.verification.levels import Level

#: At most this many name variants are tried (each is a billable registry call).
MAX_NAME_VARIANTS = 3
#: "Recently" for SIM_RECENTLY_CHANGED (DESIGN §5: 30 days, configurable).
SIM_SWAP_WINDOW_DAYS = 30


@dataclass(frozen=True)
class Call:
    """One provider call: which check, its arguments, and where its answer goes.

    ``slot`` names the :class:`Evidence` field the answer fills; for name variants
    it is ``name_variants`` and ``variant`` says which.
    """

    check: Check
    slot: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)
    variant: str | None = None


def _stopped(evidence: Evidence) -> bool:
    """True when local findings or the platform's state forbid any provider call."""
    submission = evidence.submission
    return (
        evidence.history.locked_until is not None
        or "name" in evidence.local_errors
        or "id_number" in evidence.local_errors
        or submission.name is None
        or submission.id_number is None
        or age_ineligible(evidence)
        or "id" not in submission.consent
    )


def _phone_path_open(evidence: Evidence) -> bool:
    submission = evidence.submission
    return (
        evidence.policy.level >= Level.L2
        and submission.phone is not None
        and "phone" in submission.consent
    )


def _card_path_open(evidence: Evidence) -> bool:
    submission = evidence.submission
    return (
        evidence.policy.level >= Level.L2
        and submission.bank_card is not None
        and submission.phone is not None
        and "bank_card" in submission.consent
    )


def _registry_round(evidence: Evidence) -> list[Call]:
    submission = evidence.submission
    assert submission.name is not None
    assert submission.id_number is not None
    calls: list[Call] = []
    if evidence.id_two_element is None:
        calls.append(
            Call(Check.ID_TWO_ELEMENT, "id_two_element", (submission.name, submission.id_number))
        )
    if evidence.id_validity is None:
        calls.append(
            Call(Check.ID_VALIDITY, "id_validity", (submission.name, submission.id_number))
        )
    if _phone_path_open(evidence) and evidence.carrier_lookup is None:
        calls.append(Call(Check.CARRIER_LOOKUP, "carrier_lookup", (submission.phone,)))
    return calls


def _variant_round(evidence: Evidence) -> list[Call]:
    answer = answered(evidence.id_two_element)
    submission = evidence.submission
    if (
        evidence.name_variants
        or answer is None
        or answer.outcome is not IdTwoElementOutcome.INCONSISTENT
        or submission.name is None
    ):
        return []
    variants = [v for v in names.variants(submission.name) if v != submission.name]
    return [
        Call(
            Check.ID_TWO_ELEMENT,
            "name_variants",
            (variant, submission.id_number),
            variant=variant,
        )
        for variant in variants[:MAX_NAME_VARIANTS]
    ]


def _channel_round(evidence: Evidence) -> list[Call]:
    submission = evidence.submission
    name = accepted_name(evidence)
    calls: list[Call] = []
    if _phone_path_open(evidence):
        if evidence.three_element is None:
            carrier = routing_carrier(evidence)
            calls.append(
                Call(
                    Check.CARRIER_THREE_ELEMENT,
                    "three_element",
                    (name, submission.id_number, submission.phone),
                    {"carrier": Carrier(carrier) if carrier else None},
                )
            )
        if evidence.sim_swap is None:
            calls.append(
                Call(Check.SIM_SWAP, "sim_swap", (submission.phone, SIM_SWAP_WINDOW_DAYS))
            )
        prior = evidence.history.prior
        if prior is not None and prior.same_phone and evidence.phone_tenure is None:
            # The tenure tells, at no extra round trip, whether the number changed
            # hands since this account verified it (PHONE_RECYCLED).
            calls.append(Call(Check.PHONE_TENURE, "phone_tenure", (submission.phone,)))
    if _card_path_open(evidence) and evidence.bank_card is None:
        calls.append(
            Call(
                Check.BANK_CARD_FOUR_ELEMENT,
                "bank_card",
                (name, submission.id_number, submission.bank_card, submission.phone),
            )
        )
    return calls


def _explain_round(evidence: Evidence) -> list[Call]:
    """Calls that only explain a failed phone path (status, re-issue)."""
    answer = answered(evidence.three_element)
    submission = evidence.submission
    if answer is None or not _phone_path_open(evidence):
        return []
    failed = answer.outcome in (
        CarrierThreeElementOutcome.NO_RECORD,
        CarrierThreeElementOutcome.INCONSISTENT,
    )
    undelivered = answer.outcome is CarrierThreeElementOutcome.CONSISTENT and (
        evidence.possession in (Possession.UNDELIVERABLE, Possession.FAILED)
    )
    calls: list[Call] = []
    if (failed or undelivered) and evidence.phone_status is None:
        calls.append(Call(Check.PHONE_STATUS, "phone_status", (submission.phone,)))
    prior = evidence.history.prior
    if (
        answer.outcome is CarrierThreeElementOutcome.INCONSISTENT
        and prior is not None
        and prior.same_phone
        and evidence.phone_recycled is None
        and network_entry_after(evidence, prior.verified_on) is None
    ):
        calls.append(
            Call(
                Check.PHONE_RECYCLED,
                "phone_recycled",
                (submission.phone, prior.verified_on),
            )
        )
    return calls


def _face_round(evidence: Evidence) -> list[Call]:
    submission = evidence.submission
    if (
        evidence.policy.level < Level.L3
        or submission.face is None
        or "face" not in submission.consent
        or not bound_channel_reached(evidence)
    ):
        return []
    calls: list[Call] = []
    if evidence.face_liveness is None:
        calls.append(Call(Check.FACE_LIVENESS, "face_liveness", (submission.face,)))
    if evidence.face_compare is None:
        calls.append(
            Call(
                Check.FACE_COMPARE,
                "face_compare",
                (accepted_name(evidence), submission.id_number, submission.face),
            )
        )
    return calls


def plan(evidence: Evidence) -> list[Call]:
    """The calls of the next round; empty when nothing more can change the outcome."""
    if _stopped(evidence):
        return []
    registry = _registry_round(evidence)
    if registry:
        return registry
    variants = _variant_round(evidence)
    if variants:
        return variants
    if not l1_reached(evidence):
        return []
    channel = _channel_round(evidence)
    explain = _explain_round(evidence)
    face = _face_round(evidence)
    # Explanations and face checks wait for the channel round they depend on.
    return channel or (explain + face)
