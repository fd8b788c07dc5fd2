"""The review queue's configuration, read from ``data/review.yaml``.

Service levels per reason, the face grey band, the minimum unmask reason and the
catalogue of decision reason codes (zh-CN and en labels) live in data, not code:
operations can change an SLA without a release.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

import yaml

from realname.errors import ConfigurationError
from realname.verification.catalogue import LANGUAGES, Language


class Reason(StrEnum):
    """Why a case is in the queue (``review_cases.reason``)."""

    IDENTITY_IN_USE = "IDENTITY_IN_USE"
    UNDER_REVIEW = "UNDER_REVIEW"
    FACE_LOW_CONFIDENCE = "FACE_LOW_CONFIDENCE"
    REPEATED_FAILURES = "REPEATED_FAILURES"
    CREDIT_DECLINE_REVIEW = "CREDIT_DECLINE_REVIEW"


class Decision(StrEnum):
    """approve; reject (final: the borrower cannot retry); resubmit (they can)."""

    APPROVE = "approve"
    REJECT = "reject"
    RESUBMIT = "resubmit"


@dataclass(frozen=True)
class ReviewConfig:
    sla: dict[Reason, timedelta]
    grey_min: float
    grey_pass: float
    unmask_min_reason: int
    reason_labels: dict[Reason, dict[Language, str]]
    codes: dict[Decision, dict[str, dict[Language, str]]]

    def reason_label(self, reason: str, language: Language) -> str:
        labels = self.reason_labels.get(reason)  # type: ignore[call-overload]
        return labels[language] if labels else reason

    def code_label(self, code: str, language: Language) -> str:
        for codes in self.codes.values():
            if code in codes:
                return codes[code][language]
        return code

    def code_allowed(self, decision: Decision, code: str) -> bool:
        return code in self.codes[decision]


def _labels(value: Any, where: str) -> dict[Language, str]:
    if not isinstance(value, dict) or any(not value.get(lang) for lang in LANGUAGES):
        raise ConfigurationError(f"review.yaml: {where} needs zh-CN and en labels.")
    return {lang: str(value[lang]) for lang in LANGUAGES}


def parse_config(text: str) -> ReviewConfig:
    """Parse and check a review configuration: every reason and decision present."""
    data = yaml.safe_load(text)
    try:
        sla = {reason: timedelta(hours=float(data["sla_hours"][reason])) for reason in Reason}
        band = data["face_grey_band"]
        reasons = {reason: _labels(data["reasons"][reason], reason) for reason in Reason}
        codes = {
            decision: {
                str(code): _labels(labels, f"{decision}.{code}")
                for code, labels in data["decision_codes"][decision.value].items()
            }
            for decision in Decision
        }
        config = ReviewConfig(
            sla=sla,
            grey_min=float(band["min_similarity"]),
            grey_pass=float(band["pass_similarity"]),
            unmask_min_reason=int(data["unmask_min_reason"]),
            reason_labels=reasons,
            codes=codes,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ConfigurationError(f"review.yaml is incomplete: {error!r}") from None
    if not all(config.codes.values()):
        raise ConfigurationError("review.yaml: every decision needs at least one reason code.")
    return config


@cache
def get_config() -> ReviewConfig:
    text = resources.files("realname.ops").joinpath("data/review.yaml").read_text("utf-8")
    return parse_config(text)
