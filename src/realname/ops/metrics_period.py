"""The window a dashboard looks at: first and last day (UTC, inclusive), a tenant.

Every operations metric is asked "over which days, for whom?". One value answers it,
so the dashboard, the finance view and ``realname ops metrics`` count the same rows.
Buckets for series over time are days for windows up to :data:`DAILY_UP_TO` days and
ISO weeks (starting Monday) beyond, so a chart has a readable number of bars.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from realname.finance.costs import period_bounds

Bucket = Literal["day", "week"]
#: Longest window still drawn per day.
DAILY_UP_TO = 45
#: Longest window accepted (about two years): beyond it a page would scan everything.
MAX_DAYS = 731


class PeriodInvalid(ValueError):
    """The period asked for cannot be used; ``field`` names the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class Period:
    start: date
    end: date
    tenant_id: str | None = None

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise PeriodInvalid(
                "until", f"the period ends ({self.end}) before it starts ({self.start})"
            )
        if self.days > MAX_DAYS:
            raise PeriodInvalid("since", f"the period is longer than {MAX_DAYS} days")

    @classmethod
    def last(cls, days: int, today: date, tenant_id: str | None = None) -> Period:
        """The ``days`` days ending with ``today``."""
        return cls(today - timedelta(days=days - 1), today, tenant_id)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        """``[start 00:00 UTC, day after end 00:00 UTC)``."""
        return period_bounds(self.start, self.end)

    @property
    def bucket(self) -> Bucket:
        return "day" if self.days <= DAILY_UP_TO else "week"

    def bucket_of(self, at: datetime) -> date:
        """The first day of the bucket holding instant ``at`` (read in UTC)."""
        day = at.astimezone(UTC).date()
        if self.bucket == "week":
            return day - timedelta(days=day.weekday())
        return day

    def buckets(self) -> list[date]:
        """Every bucket of the period, oldest first, including empty ones."""
        first = self.bucket_of(datetime.combine(self.start, datetime.min.time(), tzinfo=UTC))
        step = timedelta(days=7 if self.bucket == "week" else 1)
        out: list[date] = []
        day = first
        while day <= self.end:
            out.append(day)
            day += step
        return out


def parse_day(field: str, text: str) -> date:
    """An ISO date or :class:`PeriodInvalid` naming ``field``."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise PeriodInvalid(field, f"{text!r} is not a date (YYYY-MM-DD)") from None
