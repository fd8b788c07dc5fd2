"""Verification checks (calls to authorities) and the results derived from them.

A check keeps what the provider answered — its raw code, message and request id —
and what it cost, in integer fen, so a diagnosis can be re-derived and the cost of
the problem measured later (DESIGN §5, §10). A result records the level reached
against the level needed with its ordered causes (DESIGN §4).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from realname.errors import BadRequest
from realname.store.models import SEVERITIES, Cause, VerificationCheck, VerificationResult
from realname.store.types import new_id, utcnow


@dataclass(frozen=True)
class CauseRecord:
    """A cause to store: a stable code (DESIGN §4), a severity, machine details.

    ``details`` must hold no personal data (say *which part* of an ID number is
    wrong, not the number).
    """

    code: str
    severity: str
    details: Mapping[str, Any] = field(default_factory=dict)


def record_check(
    session: Session,
    *,
    tenant_id: str,
    account_id: str,
    check_kind: str,
    provider: str,
    outcome: str,
    raw_code: str | None = None,
    raw_message: str | None = None,
    provider_request_id: str | None = None,
    billable: bool = False,
    cost_fen: int = 0,
    latency_ms: int = 0,
    flush: bool = True,
) -> VerificationCheck:
    """Store one authority call. Money is integer fen; a float is refused.

    ``flush=False`` leaves the row to the session's next flush, so that a caller
    storing several checks writes them in one batched INSERT.
    """
    if isinstance(cost_fen, bool) or not isinstance(cost_fen, int) or cost_fen < 0:
        raise BadRequest("cost_fen must be a non-negative integer number of fen.")
    if isinstance(latency_ms, bool) or not isinstance(latency_ms, int) or latency_ms < 0:
        raise BadRequest("latency_ms must be a non-negative integer.")
    check = VerificationCheck(
        id=new_id(),
        tenant_id=tenant_id,
        account_id=account_id,
        check_kind=check_kind,
        provider=provider,
        outcome=outcome,
        raw_code=raw_code,
        raw_message=raw_message,
        provider_request_id=provider_request_id,
        billable=billable,
        cost_fen=cost_fen,
        latency_ms=latency_ms,
        created_at=utcnow(),
    )
    session.add(check)
    if flush:
        session.flush()
    return check


def list_checks(session: Session, account_id: str) -> list[VerificationCheck]:
    """An account's checks, oldest first."""
    return list(
        session.scalars(
            select(VerificationCheck)
            .where(VerificationCheck.account_id == account_id)
            .order_by(VerificationCheck.created_at, VerificationCheck.id)
        )
    )


def record_result(
    session: Session,
    *,
    account_id: str,
    level_reached: str,
    level_needed: str,
    causes: Sequence[CauseRecord] = (),
    bound_phone_index: str | None = None,
    product: str | None = None,
    verified_at: datetime | None = None,
) -> VerificationResult:
    """Store a result and its causes, keeping their order (most specific first)."""
    for cause in causes:
        if cause.severity not in SEVERITIES:
            raise BadRequest("Unknown cause severity.", severity=cause.severity)
    result = VerificationResult(
        id=new_id(),
        account_id=account_id,
        level_reached=level_reached,
        level_needed=level_needed,
        bound_phone_index=bound_phone_index,
        product=product,
        verified_at=verified_at,
        created_at=utcnow(),
    )
    result.causes = [
        Cause(ordinal=i, code=c.code, severity=c.severity, details=dict(c.details))
        for i, c in enumerate(causes)
    ]
    session.add(result)
    session.flush()
    return result


def latest_result(session: Session, account_id: str) -> VerificationResult | None:
    """The newest result of an account, with its causes loaded.

    The causes are read only if the session does not hold them already (a result
    this transaction has just recorded): one SELECT fewer after a verification.
    """
    result = session.scalar(
        select(VerificationResult)
        .where(VerificationResult.account_id == account_id)
        .order_by(VerificationResult.created_at.desc(), VerificationResult.id.desc())
        .limit(1)
    )
    if result is not None and "causes" in inspect(result).unloaded:
        result.causes  # noqa: B018 - loads them (one SELECT, ordered by ordinal)
    return result


__all__ = ["CauseRecord", "latest_result", "list_checks", "record_check", "record_result"]
