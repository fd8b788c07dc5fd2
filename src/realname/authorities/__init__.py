"""The authorities: who realname asks, and what they may answer.

- :mod:`~realname.authorities.protocol` — :class:`Provider`, one async method per
  check, and the frozen answer types with their outcome enums;
- :mod:`~realname.authorities.codes` — the real APIs' result-code tables (Tencent
  Cloud FaceID, Alibaba Cloud), billing and QPS quotas;
- :mod:`~realname.authorities.errors` — :class:`ProviderUnavailable` (no answer: never
  a mismatch) and the sandbox's errors;
- :mod:`~realname.authorities.sandbox` — the embedded simulated registry, carriers and
  banks.
"""

from __future__ import annotations

from realname.authorities.errors import (
    FaceEngineMissing,
    FixtureError,
    ProviderUnavailable,
    SandboxWorldMissing,
    UnavailableReason,
)
from realname.authorities.protocol import (
    Answer,
    BankCardAnswer,
    BankCardOutcome,
    CardStatus,
    Carrier,
    CarrierLookupAnswer,
    CarrierLookupOutcome,
    CarrierMismatch,
    CarrierThreeElementAnswer,
    CarrierThreeElementOutcome,
    Check,
    Element,
    FaceCapture,
    FaceCompareAnswer,
    FaceCompareOutcome,
    FaceEngine,
    FaceLivenessAnswer,
    FaceLivenessOutcome,
    FaceQualityIssue,
    FaceSimilarity,
    IdTwoElementAnswer,
    IdTwoElementOutcome,
    IdValidityAnswer,
    IdValidityOutcome,
    LivenessVerdict,
    PhoneRecycledAnswer,
    PhoneRecycledOutcome,
    PhoneStatusAnswer,
    PhoneStatusOutcome,
    PhoneTenureAnswer,
    PhoneTenureOutcome,
    Provider,
    TenureBucket,
)

__all__ = [
    "Answer",
    "BankCardAnswer",
    "BankCardOutcome",
    "CardStatus",
    "Carrier",
    "CarrierLookupAnswer",
    "CarrierLookupOutcome",
    "CarrierMismatch",
    "CarrierThreeElementAnswer",
    "CarrierThreeElementOutcome",
    "Check",
    "Element",
    "FaceCapture",
    "FaceCompareAnswer",
    "FaceCompareOutcome",
    "FaceEngine",
    "FaceEngineMissing",
    "FaceLivenessAnswer",
    "FaceLivenessOutcome",
    "FaceQualityIssue",
    "FaceSimilarity",
    "FixtureError",
    "IdTwoElementAnswer",
    "IdTwoElementOutcome",
    "IdValidityAnswer",
    "IdValidityOutcome",
    "LivenessVerdict",
    "PhoneRecycledAnswer",
    "PhoneRecycledOutcome",
    "PhoneStatusAnswer",
    "PhoneStatusOutcome",
    "PhoneTenureAnswer",
    "PhoneTenureOutcome",
    "Provider",
    "ProviderUnavailable",
    "SandboxWorldMissing",
    "TenureBucket",
    "UnavailableReason",
]
