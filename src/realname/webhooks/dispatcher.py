"""Sending the outbox: sign, POST, record every attempt, retry with backoff.

:func:`dispatch_due` is one pass: it claims the deliveries that are due, sends them
(a few at a time, each with a short timeout), and records each attempt — status code
or error class, and latency; never the receiver's response body, which is not even
read. A 2xx answer delivers; anything else (another status, a timeout, a refused
connection, a redirect — redirects are not followed) schedules a retry by
:func:`realname.webhooks.policy.retry_delay`, until the last attempt fails and the
delivery is ``failed``.

Claiming is a conditional UPDATE that moves ``next_attempt_at`` one lease into the
future, so any number of dispatchers (API processes, a CLI worker) can run against
one database: a delivery is sent by whoever claimed it, and if that process dies
mid-send the lease runs out and someone else tries again. A receiver can therefore
see a message twice (at-least-once delivery) and deduplicates on ``webhook-id``.

Three ways to run it:

* :func:`dispatch_due` — one pass, with an injectable clock and HTTP client (tests);
* :func:`run_dispatcher` / :func:`dispatching` / :func:`install_dispatcher` — an
  asyncio loop for an API process's lifespan;
* :func:`run` — from the command line: one pass (``once=True``) or forever.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any, cast

import anyio
import anyio.to_thread
import httpx
from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette

from realname import __version__
from realname.config import Settings, get_settings
from realname.privacy.keys import load_keyring
from realname.store.db import make_engine, make_session_factory
from realname.store.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from realname.store.types import utcnow
from realname.webhooks.errors import WebhookSecretUnreadable, WebhookUrlRejected
from realname.webhooks.policy import check_url, retry_delay
from realname.webhooks.sealing import SecretBox
from realname.webhooks.signing import signed_headers

logger = logging.getLogger(__name__)

#: Per attempt: 5 s to connect, 10 s for each read or write.
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
DEFAULT_BATCH = 32
DEFAULT_WORKERS = 8
DEFAULT_INTERVAL = 5.0
#: How long a claim holds: well above one batch (32 / 8 workers x 15 s = 60 s).
LEASE = timedelta(minutes=5)
USER_AGENT = f"realname-webhooks/{__version__}"


@dataclass(frozen=True)
class AttemptOutcome:
    """What one HTTP attempt came to."""

    status_code: int | None
    error: str | None
    latency_ms: int

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True)
class DispatchReport:
    """Counts from one or more passes of :func:`dispatch_due`."""

    claimed: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    cancelled: int = 0

    def __add__(self, other: DispatchReport) -> DispatchReport:
        return DispatchReport(
            claimed=self.claimed + other.claimed,
            delivered=self.delivered + other.delivered,
            retrying=self.retrying + other.retrying,
            failed=self.failed + other.failed,
            cancelled=self.cancelled + other.cancelled,
        )


@dataclass(frozen=True)
class _Job:
    delivery_id: str
    attempt: int
    event_id: str
    payload: str
    url: str
    secret: str | None = field(repr=False)


def new_client(**kwargs: Any) -> httpx.Client:
    """The HTTP client the dispatcher uses by default: short timeouts, no redirects."""
    kwargs.setdefault("timeout", DEFAULT_TIMEOUT)
    kwargs.setdefault("follow_redirects", False)
    kwargs.setdefault("headers", {"user-agent": USER_AGENT})
    return httpx.Client(**kwargs)


def _claim(
    session_factory: sessionmaker[Session],
    box: SecretBox,
    now: datetime,
    limit: int,
    lease: timedelta,
) -> tuple[list[_Job], int]:
    """Claim up to ``limit`` due deliveries; cancel those whose endpoint is gone."""
    jobs: list[_Job] = []
    cancelled = 0
    with session_factory.begin() as session:
        due = session.scalars(
            select(WebhookDelivery.id)
            .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(limit)
        ).all()
        for delivery_id in due:
            result = cast(
                CursorResult[Any],
                session.execute(
                    update(WebhookDelivery)
                    .where(
                        WebhookDelivery.id == delivery_id,
                        WebhookDelivery.status == "pending",
                        WebhookDelivery.next_attempt_at <= now,
                    )
                    .values(next_attempt_at=now + lease)
                    .execution_options(synchronize_session=False)
                ),
            )
            if result.rowcount != 1:
                continue  # another dispatcher claimed it first
            delivery = session.get_one(WebhookDelivery, delivery_id)
            endpoint = session.get_one(WebhookEndpoint, delivery.endpoint_id)
            if endpoint.deleted_at is not None or endpoint.secret_ciphertext is None:
                delivery.status, delivery.next_attempt_at = "cancelled", None
                delivery.finished_at = now
                cancelled += 1
                continue
            try:
                secret: str | None = box.open(endpoint.id, endpoint.secret_ciphertext)
            except WebhookSecretUnreadable:
                secret = None
            jobs.append(
                _Job(
                    delivery_id=delivery.id,
                    attempt=delivery.attempt_count + 1,
                    event_id=delivery.event_id,
                    payload=delivery.payload,
                    url=endpoint.url,
                    secret=secret,
                )
            )
    return jobs, cancelled


def _elapsed_ms(started: float) -> int:
    return max(0, round((time.perf_counter() - started) * 1000))


def send(client: httpx.Client, job: _Job, now: datetime) -> AttemptOutcome:
    """One signed POST; the answer's status only — its body is never read."""
    if job.secret is None:
        return AttemptOutcome(None, WebhookSecretUnreadable.__name__, 0)
    try:
        url = check_url(job.url)
    except WebhookUrlRejected:
        return AttemptOutcome(None, WebhookUrlRejected.__name__, 0)
    body = job.payload.encode("utf-8")
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        **signed_headers(job.secret, job.event_id, int(now.timestamp()), body),
    }
    started = time.perf_counter()
    try:
        with client.stream("POST", url, content=body, headers=headers) as response:
            status = response.status_code
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        # The class names the failure (ConnectError, ReadTimeout …); the message could
        # quote the receiver, so it is not kept.
        return AttemptOutcome(None, type(exc).__name__, _elapsed_ms(started))
    return AttemptOutcome(status, None, _elapsed_ms(started))


def _record(
    session_factory: sessionmaker[Session],
    job: _Job,
    outcome: AttemptOutcome,
    now: datetime,
    rng: random.Random | None,
) -> str:
    """Log the attempt and move the delivery on; the delivery's resulting status."""
    with session_factory.begin() as session:
        delivery = session.get_one(WebhookDelivery, job.delivery_id)
        session.add(
            WebhookAttempt(
                delivery_id=job.delivery_id,
                attempt=job.attempt,
                at=now,
                status_code=outcome.status_code,
                error=outcome.error,
                latency_ms=outcome.latency_ms,
                succeeded=outcome.succeeded,
            )
        )
        if delivery.status != "pending":
            return delivery.status  # cancelled while we were sending; the attempt is kept
        delivery.attempt_count = job.attempt
        delay = None if outcome.succeeded else retry_delay(job.attempt, rng)
        if outcome.succeeded:
            delivery.status, delivery.next_attempt_at, delivery.finished_at = "delivered", None, now
        elif delay is None:
            delivery.status, delivery.next_attempt_at, delivery.finished_at = "failed", None, now
        else:
            delivery.next_attempt_at = now + delay
            return "retrying"
        return delivery.status


def dispatch_due(
    session_factory: sessionmaker[Session],
    client: httpx.Client,
    now: datetime,
    *,
    box: SecretBox,
    limit: int = DEFAULT_BATCH,
    workers: int = DEFAULT_WORKERS,
    rng: random.Random | None = None,
    lease: timedelta = LEASE,
) -> DispatchReport:
    """Send every delivery due at ``now`` (at most ``limit``) and record the attempts.

    ``now`` is the clock for everything this pass writes and signs; ``rng`` fixes the
    retry jitter in tests. Runs in the calling thread (HTTP sends on up to ``workers``
    threads); call it from a worker thread in async code.
    """
    jobs, cancelled = _claim(session_factory, box, now, limit, lease)
    report = DispatchReport(claimed=len(jobs) + cancelled, cancelled=cancelled)
    if not jobs:
        return report
    if workers > 1 and len(jobs) > 1:
        with ThreadPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
            outcomes = list(pool.map(lambda job: send(client, job, now), jobs))
    else:
        outcomes = [send(client, job, now) for job in jobs]
    for job, outcome in zip(jobs, outcomes, strict=True):
        logger.info(
            "webhook attempt",
            extra={
                "delivery_id": job.delivery_id,
                "attempt": job.attempt,
                "status": outcome.status_code,
                "error": outcome.error,
                "duration_ms": outcome.latency_ms,
            },
        )
        try:
            status = _record(session_factory, job, outcome, now, rng)
        except IntegrityError:
            # Two dispatchers sent the same attempt (a lease ran out mid-send); the
            # first record stands.
            logger.warning("webhook attempt already recorded", extra={"attempt": job.attempt})
            continue
        if status == "delivered":
            report = replace(report, delivered=report.delivered + 1)
        elif status == "retrying":
            report = replace(report, retrying=report.retrying + 1)
        elif status == "failed":
            report = replace(report, failed=report.failed + 1)
        else:
            report = replace(report, cancelled=report.cancelled + 1)
    return report


async def run_dispatcher(
    session_factory: sessionmaker[Session],
    box: SecretBox,
    *,
    client: httpx.Client | None = None,
    interval: float = DEFAULT_INTERVAL,
    clock: Callable[[], datetime] = utcnow,
    limit: int = DEFAULT_BATCH,
) -> None:
    """Dispatch forever: a pass, then a pause of ``interval`` seconds unless the batch was full.

    Database or other unexpected errors are logged (by class only) and the loop goes
    on; cancel the task to stop it.
    """
    http = client or new_client()
    try:
        while True:
            try:
                report = await anyio.to_thread.run_sync(
                    partial(dispatch_due, session_factory, http, clock(), box=box, limit=limit)
                )
            except Exception as exc:
                logger.warning("webhook dispatch failed", extra={"exc_type": type(exc).__name__})
                report = DispatchReport()
            if report.claimed < limit:
                await anyio.sleep(interval)
    finally:
        if client is None:
            http.close()


@asynccontextmanager
async def dispatching(
    session_factory: sessionmaker[Session],
    box: SecretBox,
    *,
    interval: float = DEFAULT_INTERVAL,
    client: httpx.Client | None = None,
) -> AsyncIterator[None]:
    """Run :func:`run_dispatcher` in the background for the duration of the block."""
    async with anyio.create_task_group() as group:
        group.start_soon(
            partial(run_dispatcher, session_factory, box, client=client, interval=interval)
        )
        try:
            yield
        finally:
            group.cancel_scope.cancel()


def install_dispatcher(app: Starlette, *, interval: float = DEFAULT_INTERVAL) -> None:
    """Start the dispatcher with ``app``'s lifespan, around any lifespan it already has.

    ``app.state.context`` must be the :class:`realname.api.context.AppContext`
    (``create_app`` sets it); the loop stops when the application shuts down.
    """
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: Starlette) -> AsyncIterator[Any]:
        context = application.state.context
        box = SecretBox.from_keyring(context.vault.keyring)
        async with (
            cast(AbstractAsyncContextManager[Any], inner(application)) as state,
            dispatching(context.session_factory, box, interval=interval),
        ):
            yield state

    app.router.lifespan_context = lifespan


def run(
    settings: Settings | None = None,
    *,
    once: bool = False,
    interval: float = DEFAULT_INTERVAL,
) -> DispatchReport | None:
    """Dispatch from the command line: everything due now (``once``) or forever.

    With ``once`` the passes repeat until a batch is not full, and the summed report is
    returned; otherwise this blocks until interrupted.
    """
    settings = settings or get_settings()
    engine = make_engine(settings.resolved_database_url)
    try:
        factory = make_session_factory(engine)
        box = SecretBox.from_keyring(load_keyring(settings))
        if not once:
            anyio.run(partial(run_dispatcher, factory, box, interval=interval))
            return None
        total = DispatchReport()
        with new_client() as client:
            while True:
                report = dispatch_due(factory, client, utcnow(), box=box)
                total += report
                if report.claimed < DEFAULT_BATCH:
                    return total
    finally:
        engine.dispose()


__all__ = [
    "DEFAULT_INTERVAL",
    "AttemptOutcome",
    "DispatchReport",
    "dispatch_due",
    "dispatching",
    "install_dispatcher",
    "new_client",
    "run",
    "run_dispatcher",
    "send",
]
