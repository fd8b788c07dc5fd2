"""The pure core, called with plain data: planner rules and causes fixtures cannot set."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from realname.authorities.protocol import Check
from realname.verification.catalogue import LANGUAGES, get_catalogue
from realname.verification.causes import Cause, CauseCode, Severity
from realname.verification.diagnosis import diagnose
from realname.verification.evidence import Evidence, History, Submission
from realname.verification.intake import RawSubmission, prepare
from realname.verification.levels import Level
from realname.verification.planner import plan
from realname.verification.policy import default_policies

TODAY = date(2026, 12, 1)
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def _evidence(level: Level = Level.L2, **raw: str) -> Evidence:
    values = {"name": "王小明", "id_number": "110105199003071239", "phone": "13912345678"}
    values.update(raw)
    submission, errors = prepare(RawSubmission(**values), TODAY)
    return Evidence(
        policy=default_policies().with_level(level),
        today=TODAY,
        submission=submission,
        local_errors=errors,
    )


def test_round_one_asks_the_registry_and_where_the_number_is_served() -> None:
    assert {call.check for call in plan(_evidence())} == {
        Check.ID_TWO_ELEMENT,
        Check.ID_VALIDITY,
        Check.CARRIER_LOOKUP,
    }


def test_an_l1_product_never_pays_for_phone_checks() -> None:
    assert Check.CARRIER_LOOKUP not in {call.check for call in plan(_evidence(Level.L1))}


@pytest.mark.parametrize(
    ("field", "value"),
    [("id_number", "110105199003071238"), ("name", "王2"), ("id_number", "510107201006155283")],
)
def test_nothing_is_asked_about_an_invalid_or_ineligible_identity(field: str, value: str) -> None:
    assert plan(_evidence(**{field: value})) == []


def test_attempts_locked_stops_everything_and_names_the_unlock_time() -> None:
    until = NOW + timedelta(minutes=30)
    evidence = _evidence()
    evidence = Evidence(
        policy=evidence.policy,
        today=TODAY,
        submission=evidence.submission,
        history=History(locked_until=until),
    )
    assert plan(evidence) == []
    diagnosis = diagnose(evidence, now=NOW)
    assert diagnosis.codes == ["ATTEMPTS_LOCKED"]
    assert diagnosis.causes[0].params["until"] == until.isoformat()
    assert diagnosis.level == Level.L0


def test_a_case_under_review_says_so() -> None:
    evidence = Evidence(
        policy=default_policies().with_level(Level.L2),
        today=TODAY,
        submission=Submission(),
        history=History(under_review=True),
    )
    assert "UNDER_REVIEW" in diagnose(evidence, now=NOW).codes


def test_causes_are_ordered_blocking_first_and_unique() -> None:
    from realname.verification.causes import ordered

    causes = [
        Cause(CauseCode.PHONE_PORTED, Severity.INFO),
        Cause(CauseCode.PHONE_OWNED_BY_OTHER, Severity.BLOCKING),
        Cause(CauseCode.NAME_CHARACTER_VARIANT, Severity.WARNING),
        Cause(CauseCode.PHONE_OWNED_BY_OTHER, Severity.BLOCKING),
    ]
    assert [c.code for c in ordered(causes)] == [
        CauseCode.PHONE_OWNED_BY_OTHER,
        CauseCode.NAME_CHARACTER_VARIANT,
        CauseCode.PHONE_PORTED,
    ]


EXAMPLE_PARAMS = {
    CauseCode.ID_NUMBER_INVALID: {"part": "checksum"},
    CauseCode.AGE_INELIGIBLE: {"min_age": 18, "max_age": 70},
    CauseCode.PHONE_PORTED: {"carrier": "ctcc", "ported_from": "cmcc"},
    CauseCode.BANK_CARD_INACTIVE: {"card_status": "dormant"},
    CauseCode.FACE_QUALITY: {"face_reason": "too_dark"},
    CauseCode.STEPS_INCOMPLETE: {"needed": "L2", "level": "L1", "missing": ["bound_channel"]},
    CauseCode.CONSENT_MISSING: {"kinds": ["face"]},
    CauseCode.PROVIDER_UNAVAILABLE: {"check": "carrier_three_element", "reason": "timeout"},
    CauseCode.ATTEMPTS_LOCKED: {"until": "2026-12-01T12:30:00+00:00"},
    CauseCode.REVIEW_APPROVED: {"review_reason": "same person", "level": "L2"},
    CauseCode.RESUBMIT_REQUESTED: {"review_reason": "blurry photo"},
    CauseCode.REVIEW_REJECTED: {"review_reason": "identity theft"},
}


@pytest.mark.parametrize("code", list(CauseCode))
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_cause_is_explained_in_both_languages(code: CauseCode, language: str) -> None:
    catalogue = get_catalogue()
    explanation = catalogue.explain(
        catalogue.cause(code, **EXAMPLE_PARAMS.get(code, {})),
        language,  # type: ignore[arg-type]
    )
    assert explanation.title
    assert explanation.message
    text = explanation.message + "".join(r.text for r in explanation.remedies)
    assert "{" not in text, text
    if code.value.endswith("_INVALID"):
        assert explanation.remedies


def test_blocking_causes_all_offer_a_remedy() -> None:
    catalogue = get_catalogue()
    for code in CauseCode:
        cause = catalogue.cause(code)
        if cause.severity is Severity.BLOCKING:
            assert catalogue.explain(cause, "en").remedies, code
