"""Errors raised by the project-financing planner.

A plan that does not hold together is refused as a whole: :class:`PlanInvalid` lists
every problem found, each as a ``{"field": ..., "problem": ...}`` pair where ``field``
is the dotted path inside the plan file (``financing.commercial_loans.0.tenor``), so
an author can fix them all in one pass. Nothing is computed from an invalid plan.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, TypedDict

from realname.errors import RealnameError


class Problem(TypedDict):
    """One thing wrong with a plan: where it is and why it is wrong."""

    field: str
    problem: str


class PlanInvalid(RealnameError, ValueError):
    """The financing plan is inconsistent; ``problems`` names each field and why."""

    code: ClassVar[str] = "PLAN_INVALID"
    http_status: ClassVar[int] = 422
    default_message: ClassVar[str] = "The financing plan is not valid."

    def __init__(self, problems: Sequence[Problem], message: str | None = None) -> None:
        self.problems: list[Problem] = list(problems)
        super().__init__(message, problems=self.problems)

    def diagnostics(self) -> str:
        lines = [f"{self.code}: {self.message}"]
        lines.extend(f"  {p['field'] or '(plan)'}: {p['problem']}" for p in self.problems)
        return "\n".join(lines)
