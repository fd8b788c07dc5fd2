"""Re-run verifications that an authority's outage left unfinished.

A provider that did not answer yields PROVIDER_UNAVAILABLE and an automatic re-run
when it recovers (the verification-engine issue). This job finds every account whose
latest result carries PROVIDER_UNAVAILABLE and verifies it again from the elements
the store holds (decrypted for this purpose only), under the same product policy. An
authority still down leaves the result as it was — the next run tries again; the
resilience wrapper's circuit breaker keeps that cheap.

Every API process runs the loop, but only the holder of the ``rerun-unavailable``
lease (:mod:`realname.jobs.lease`) makes passes, and it renews the lease before each
account it verifies: two processes never re-run the same result, and when the holder
stops another process takes over.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import anyio
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette

from realname.authorities.protocol import Provider
from realname.jobs.lease import Lease
from realname.ops.cases import sync_review_cases
from realname.privacy.vault import DataErased, Vault
from realname.store.models import Account, Cause, Person, VerificationResult
from realname.store.repositories.people import read_identity
from realname.store.types import utcnow
from realname.verification.policy import PolicyBook
from realname.verification.users import submit


@dataclass(frozen=True)
class RerunReport:
    candidates: int
    completed: int
    still_unavailable: int


def pending_accounts(session: Session, limit: int) -> list[tuple[str, str | None]]:
    """(account id, product) of accounts whose latest result says an authority was down."""
    latest = (
        select(
            VerificationResult.account_id,
            func.max(VerificationResult.created_at).label("at"),
        )
        .group_by(VerificationResult.account_id)
        .subquery()
    )
    rows = session.execute(
        select(VerificationResult.account_id, VerificationResult.product)
        .join(
            latest,
            (latest.c.account_id == VerificationResult.account_id)
            & (latest.c.at == VerificationResult.created_at),
        )
        .join(Cause, Cause.result_id == VerificationResult.id)
        .where(Cause.code == "PROVIDER_UNAVAILABLE")
        .distinct()
        .order_by(VerificationResult.account_id)
        .limit(limit)
    )
    return [(account_id, product) for account_id, product in rows]


def _pending(session_factory: sessionmaker[Session], limit: int) -> list[tuple[str, str | None]]:
    with session_factory() as session:
        return pending_accounts(session, limit)


def _sync_review_cases(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        sync_review_cases(session, datetime.now(UTC))
        session.commit()


async def rerun_unavailable(
    session_factory: sessionmaker[Session],
    vault: Vault,
    provider: Provider,
    policies: PolicyBook,
    *,
    now: datetime | None = None,
    limit: int = 100,
    keep: Callable[[], Awaitable[bool]] | None = None,
) -> RerunReport:
    """Verify again, one transaction each, every account an outage left pending.

    Each account is verified at the time its turn comes, unless ``now`` fixes one time
    for all (tests). Not at a time taken before the pending accounts were read: on a
    busy database that read can wait, and a consent given meanwhile — before the
    outage's result, which is why the account is pending — would be judged missing.

    ``keep`` (a lease's :meth:`~realname.jobs.lease.Lease.held`) is asked before each
    account; when it answers no, this process no longer owns the job and stops.
    """
    pending = await anyio.to_thread.run_sync(_pending, session_factory, limit)
    completed = still = 0
    for account_id, product in pending:
        if keep is not None and not await keep():
            break
        with session_factory() as session:
            account = session.get(Account, account_id)
            if account is None or account.person_id is None:
                continue
            person = session.get(Person, account.person_id)
            if person is None:
                continue
            try:
                identity = read_identity(session, vault, person)
            except DataErased:
                continue
            try:
                policy = policies.product(product)
            except KeyError:
                policy = policies.product(None)
            submitted = await submit(
                session,
                vault,
                provider,
                account,
                name=identity.get("name"),
                id_number=identity.get("id_number"),
                phone=identity.get("phone"),
                bank_card=identity.get("bank_card"),
                policy=policy,
                now=now or utcnow(),
            )
            session.commit()
        if "PROVIDER_UNAVAILABLE" in submitted.outcome.diagnosis.codes:
            still += 1
        else:
            completed += 1
    return RerunReport(candidates=len(pending), completed=completed, still_unavailable=still)


logger = logging.getLogger(__name__)

#: The lease (:mod:`realname.jobs.lease`) whose holder runs the re-run loop.
RERUN_JOB = "rerun-unavailable"


def rerun_lease_ttl(interval: float) -> timedelta:
    """How long a hold on :data:`RERUN_JOB` lasts: three passes, and at least 30 s.

    Longer than the pause between passes, so the holder keeps the job from pass to
    pass rather than the processes taking turns at random; and longer than one
    account's verification (at most a few provider deadlines), since the lease is
    renewed before each account.
    """
    return timedelta(seconds=max(3 * interval, 30.0))


async def rerun_forever(
    context: Any, interval: float, limit: int = 20, *, lease: Lease | None = None
) -> None:
    """Every ``interval`` seconds, re-run what outages left pending (first pass after one)
    — while this process holds the job's lease (by default :data:`RERUN_JOB`).

    The passes' own queries run in a worker thread. On the event loop, a SQLite BEGIN
    that waits for the write lock blocks the loop, and the lock may be held by a
    ``def`` handler whose transaction ends only when the loop schedules its
    dependency's exit: the wait would last the whole busy timeout.
    """
    if lease is None:
        ttl = rerun_lease_ttl(interval)
        lease = Lease(context.session_factory, RERUN_JOB, ttl, context.lease_holder)
    try:
        while True:
            await anyio.sleep(interval)
            if not await lease.held():
                continue
            try:
                await rerun_unavailable(
                    context.session_factory,
                    context.vault,
                    context.provider,
                    context.policies,
                    limit=limit,
                    keep=lease.held,
                )
            except Exception as exc:
                logger.warning("re-run pass failed", extra={"exc_type": type(exc).__name__})
            try:
                # The review queue's intake rides on the same loop (realname.ops.cases).
                await anyio.to_thread.run_sync(_sync_review_cases, context.session_factory)
            except Exception as exc:
                logger.warning("review intake failed", extra={"exc_type": type(exc).__name__})
    finally:
        await lease.released()


def install_rerun_loop(app: Starlette, *, interval: float) -> None:
    """Run :func:`rerun_forever` for the lifetime of ``app`` (``interval`` 0: not at all)."""
    if interval <= 0:
        return
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: Starlette) -> AsyncIterator[Any]:
        async with (
            cast(AbstractAsyncContextManager[Any], inner(application)) as state,
            anyio.create_task_group() as group,
        ):
            group.start_soon(rerun_forever, application.state.context, interval)
            try:
                yield state
            finally:
                group.cancel_scope.cancel()

    app.router.lifespan_context = lifespan
