"""Re-run verifications that an authority's outage left unfinished.

A provider that did not answer yields PROVIDER_UNAVAILABLE and an automatic re-run
when it recovers (the verification-engine issue). This job finds every account whose
latest result carries PROVIDER_UNAVAILABLE and verifies it again from the elements
the store holds (decrypted for this purpose only), under the same product policy. An
authority still down leaves the result as it was — the next run tries again; the
resilience wrapper's circuit breaker keeps that cheap.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import anyio
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette

from realname.authorities.protocol import Provider
from realname.ops.cases import sync_review_cases
from realname.privacy.vault import DataErased, Vault
from realname.store.models import Account, Cause, Person, VerificationResult
from realname.store.repositories.people import read_identity
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
    now: datetime,
    limit: int = 100,
) -> RerunReport:
    """Verify again, one transaction each, every account an outage left pending."""
    pending = await anyio.to_thread.run_sync(_pending, session_factory, limit)
    completed = still = 0
    for account_id, product in pending:
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
                now=now,
            )
            session.commit()
        if "PROVIDER_UNAVAILABLE" in submitted.outcome.diagnosis.codes:
            still += 1
        else:
            completed += 1
    return RerunReport(candidates=len(pending), completed=completed, still_unavailable=still)


logger = logging.getLogger(__name__)


async def rerun_forever(context: Any, interval: float, limit: int = 20) -> None:
    """Every ``interval`` seconds, re-run what outages left pending (first pass after one).

    The passes' own queries run in a worker thread. On the event loop, a SQLite BEGIN
    that waits for the write lock blocks the loop, and the lock may be held by a
    ``def`` handler whose transaction ends only when the loop schedules its
    dependency's exit: the wait would last the whole busy timeout.
    """
    while True:
        await anyio.sleep(interval)
        try:
            await rerun_unavailable(
                context.session_factory,
                context.vault,
                context.provider,
                context.policies,
                now=datetime.now(UTC),
                limit=limit,
            )
        except Exception as exc:
            logger.warning("re-run pass failed", extra={"exc_type": type(exc).__name__})
        try:
            # The review queue's intake rides on the same loop (realname.ops.cases).
            await anyio.to_thread.run_sync(_sync_review_cases, context.session_factory)
        except Exception as exc:
            logger.warning("review intake failed", extra={"exc_type": type(exc).__name__})


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
