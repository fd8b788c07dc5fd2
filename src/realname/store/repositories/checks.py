"""Verification checks (calls to authorities) and the results derived from them.

A check keeps what the provider answered — its raw code, message and request id —
and what it cost, in integer fen, so a diagnosis can be re-derived and the cost of
the problem measured later (DESIGN §5, §10). A result records the level reached
against the level needed with its ordered causes (DESIGN §4).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, inspect, select
from sqlalchemy.orm import Session

from realname.errors import BadRequest
from realname.store.models import SEVERITIES, Cause, VerificationCheck, VerificationResult
from realname.store.prepared import Prepared
from realname.store.tables import table_of
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


_CHECKS = table_of(VerificationCheck)
_RESULTS = table_of(VerificationResult)
_CAUSES = table_of(Cause)
#: Built once, executed as Core: the ORM's unit of work costs more CPU than the
#: INSERTs themselves, and every verification writes its checks and result.
_INSERT_CHECKS = Prepared(insert(_CHECKS))
_INSERT_RESULT = Prepared(insert(_RESULTS))
_INSERT_CAUSES = Prepared(insert(_CAUSES))
_PAST_RESULTS = Prepared(
    select(
        _RESULTS.c.id,
        _RESULTS.c.level_reached,
        _RESULTS.c.bound_phone_index,
        _RESULTS.c.verified_at,
        _RESULTS.c.created_at,
    )
    .where(_RESULTS.c.account_id == bindparam("account_id"))
    .order_by(_RESULTS.c.created_at.desc(), _RESULTS.c.id.desc())
)
_CAUSE_CODES = Prepared(
    select(_CAUSES.c.code)
    .where(_CAUSES.c.result_id == bindparam("result_id"))
    .order_by(_CAUSES.c.ordinal)
)


@dataclass(frozen=True)
class CheckRecordRow:
    """One authority call to store (see :func:`record_check` for the fields)."""

    tenant_id: str
    account_id: str
    check_kind: str
    provider: str
    outcome: str
    raw_code: str | None = None
    raw_message: str | None = None
    provider_request_id: str | None = None
    billable: bool = False
    cost_fen: int = 0
    latency_ms: int = 0


def _check_values(row: CheckRecordRow, at: datetime) -> dict[str, Any]:
    cost, latency = row.cost_fen, row.latency_ms
    if isinstance(cost, bool) or not isinstance(cost, int) or cost < 0:
        raise BadRequest("cost_fen must be a non-negative integer number of fen.")
    if isinstance(latency, bool) or not isinstance(latency, int) or latency < 0:
        raise BadRequest("latency_ms must be a non-negative integer.")
    return {
        "id": new_id(),
        "tenant_id": row.tenant_id,
        "account_id": row.account_id,
        "check_kind": row.check_kind,
        "provider": row.provider,
        "outcome": row.outcome,
        "raw_code": row.raw_code,
        "raw_message": row.raw_message,
        "provider_request_id": row.provider_request_id,
        "billable": row.billable,
        "cost_fen": cost,
        "latency_ms": latency,
        "created_at": at,
    }


def record_checks(session: Session, rows: Sequence[CheckRecordRow]) -> None:
    """Store several authority calls in one batched INSERT. Money is integer fen."""
    if not rows:
        return
    at = utcnow()
    values = [_check_values(row, at) for row in rows]
    session.flush()  # rows the ORM still holds (the account) go first: foreign keys
    _INSERT_CHECKS.run(session, values)


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
) -> None:
    """Store one authority call. Money is integer fen; a float is refused."""
    record_checks(
        session,
        [
            CheckRecordRow(
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
            )
        ],
    )


def list_checks(session: Session, account_id: str) -> list[VerificationCheck]:
    """An account's checks, oldest first."""
    return list(
        session.scalars(
            select(VerificationCheck)
            .where(VerificationCheck.account_id == account_id)
            .order_by(VerificationCheck.created_at, VerificationCheck.id)
        )
    )


@dataclass(frozen=True, slots=True)
class StoredCause:
    """A cause as :func:`record_result` stored it."""

    result_id: str
    ordinal: int
    code: str
    severity: str
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class StoredResult:
    """A result as :func:`record_result` stored it, with its causes in order.

    Plain data rather than a :class:`VerificationResult`: the row is already written,
    so nothing needs the ORM's unit of work, and building an instrumented object and
    its causes cost more CPU than the INSERTs. Read the row afresh
    (:func:`latest_result`) for the ORM object.
    """

    id: str
    account_id: str
    level_reached: str
    level_needed: str
    bound_phone_index: str | None
    product: str | None
    verified_at: datetime | None
    created_at: datetime
    causes: tuple[StoredCause, ...] = ()


_RESULT_COLUMNS = tuple(f.name for f in fields(StoredResult) if f.name != "causes")
_CAUSE_COLUMNS = tuple(f.name for f in fields(StoredCause))


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
) -> StoredResult:
    """Store a result and its causes, keeping their order (most specific first).

    Returns what was stored, as plain data.
    """
    for cause in causes:
        if cause.severity not in SEVERITIES:
            raise BadRequest("Unknown cause severity.", severity=cause.severity)
    result_id = new_id()
    stored = StoredResult(
        id=result_id,
        account_id=account_id,
        level_reached=level_reached,
        level_needed=level_needed,
        bound_phone_index=bound_phone_index,
        product=product,
        verified_at=verified_at,
        created_at=utcnow(),
        causes=tuple(
            StoredCause(result_id, i, c.code, c.severity, dict(c.details))
            for i, c in enumerate(causes)
        ),
    )
    values = {name: getattr(stored, name) for name in _RESULT_COLUMNS}
    cause_values = [{name: getattr(c, name) for name in _CAUSE_COLUMNS} for c in stored.causes]
    session.flush()  # rows the ORM still holds (the account) go first: foreign keys
    _INSERT_RESULT.run(session, values)
    _INSERT_CAUSES.run(session, cause_values)
    return stored


@dataclass(frozen=True)
class PastResult:
    """What the verification engine needs of an earlier result (its history)."""

    id: str
    level_reached: str
    bound_phone_index: str | None
    verified_at: datetime | None
    created_at: datetime


def past_results(session: Session, account_id: str) -> list[PastResult]:
    """The account's results, newest first (the order of :func:`latest_result`)."""
    return [PastResult(*row) for row in _PAST_RESULTS.all(session, {"account_id": account_id})]


def cause_codes(session: Session, result_id: str) -> list[str]:
    """The cause codes of a result, in their stored order."""
    return _CAUSE_CODES.scalars(session, {"result_id": result_id})


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


__all__ = [
    "CauseRecord",
    "CheckRecordRow",
    "PastResult",
    "StoredCause",
    "StoredResult",
    "cause_codes",
    "latest_result",
    "list_checks",
    "past_results",
    "record_check",
    "record_checks",
    "record_result",
]
