"""Third-party data: social security (社保) and housing fund (公积金) records per ID number.

A provider answers, for one resident ID number, each scheme's contributions over the
last 36 months: how many months were paid, how long the current employer has paid
without a break, and the monthly contribution base in fen (the wage the contributions
are computed on, capped by the city between 60 % and 300 % of its average wage). ``None``
means the scheme has no record — common for freelancers and rural residents.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

WINDOW_MONTHS = 36


@dataclass(frozen=True, slots=True)
class ContributionRecord:
    """One scheme's contributions; ``months_paid`` ≤ 36, ``base_fen`` per month."""

    months_paid: int
    employer_continuity_months: int
    base_fen: int


@dataclass(frozen=True, slots=True)
class ThirdPartyRecords:
    social_security: ContributionRecord | None
    housing_fund: ContributionRecord | None


class ThirdPartyProvider(Protocol):
    def records(self, id_number: str) -> ThirdPartyRecords:
        """The records held for ``id_number``; both ``None`` when nothing is known."""
        ...
