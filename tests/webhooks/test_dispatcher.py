"""The dispatcher: signed POSTs, retries with backoff on an injected clock, the attempt log."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import anyio
import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from realname.config import Settings
from realname.privacy.keys import load_keyring
from realname.store.models import WebhookDelivery
from realname.webhooks import dispatcher, outbox, policy, signing
from realname.webhooks.sealing import SecretBox
from tests.webhooks.conftest import NOW
from tests.webhooks.helpers import issue_key, loopback_receiver

pytestmark = pytest.mark.storage

URL = "https://lender.example/hooks"


def _setup(
    session_factory: sessionmaker[Session],
    box: SecretBox,
    url: str = URL,
    now: datetime | None = NOW,
) -> tuple[str, str]:
    """A tenant with one endpoint and one queued event: ``(endpoint secret, delivery id)``."""
    tenant, _ = issue_key(session_factory, [])
    with session_factory.begin() as session:
        registered = outbox.register_endpoint(
            session, box, tenant, url, [outbox.EVENT_STATUS_CHANGED]
        )
        (delivery,) = outbox.enqueue_status_changed(
            session, tenant, "acct-1", "L2", "L2", [], "L1", now=now
        )
    return registered.secret, delivery.id


def _delivery(session_factory: sessionmaker[Session], delivery_id: str) -> WebhookDelivery:
    with session_factory() as session:
        return session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id)
            .options(selectinload(WebhookDelivery.attempts))
        ).one()


def _client(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(handler))


def test_a_delivery_is_signed_and_sent_once(
    session_factory: sessionmaker[Session], box: SecretBox
) -> None:
    secret, delivery_id = _setup(session_factory, box)
    seen: list[httpx.Request] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        signing.verify(secret, request.headers, request.content, now=int(NOW.timestamp()))
        return httpx.Response(200, text="body the log must never keep")

    with _client(receiver) as client:
        report = dispatcher.dispatch_due(session_factory, client, NOW, box=box)
        again = dispatcher.dispatch_due(session_factory, client, NOW + timedelta(hours=1), box=box)
    assert report == dispatcher.DispatchReport(claimed=1, delivered=1)
    assert again == dispatcher.DispatchReport()
    (request,) = seen
    assert request.method == "POST"
    assert str(request.url) == URL
    assert request.headers["content-type"] == "application/json"
    document = json.loads(request.content)
    assert request.headers["webhook-id"] == document["id"]
    assert request.headers["webhook-timestamp"] == str(int(NOW.timestamp()))
    assert document["data"] == {
        "user_id": "acct-1",
        "level": "L2",
        "needed": "L2",
        "causes": [],
        "previous_level": "L1",
    }
    delivery = _delivery(session_factory, delivery_id)
    assert (delivery.status, delivery.attempt_count, delivery.finished_at) == ("delivered", 1, NOW)
    (attempt,) = delivery.attempts
    assert (attempt.attempt, attempt.status_code, attempt.error, attempt.succeeded) == (
        1,
        200,
        None,
        True,
    )
    assert attempt.latency_ms >= 0


def test_fails_twice_then_succeeds_with_growing_waits(
    session_factory: sessionmaker[Session], box: SecretBox
) -> None:
    _, delivery_id = _setup(session_factory, box)
    answers = [503, 500, 204]
    attempts_at: list[datetime] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        return httpx.Response(answers.pop(0))

    clock = NOW
    waits: list[timedelta] = []
    with _client(receiver) as client:
        for _ in range(3):
            # Not yet due a moment before the scheduled time: nothing is sent.
            early = dispatcher.dispatch_due(
                session_factory, client, clock - timedelta(seconds=1), box=box
            )
            assert early.claimed == 0
            attempts_at.append(clock)
            dispatcher.dispatch_due(session_factory, client, clock, box=box, rng=random.Random(7))
            delivery = _delivery(session_factory, delivery_id)
            if delivery.next_attempt_at is not None:
                waits.append(delivery.next_attempt_at - clock)
                clock = delivery.next_attempt_at
    assert answers == []
    delivery = _delivery(session_factory, delivery_id)
    assert (delivery.status, delivery.attempt_count) == ("delivered", 3)
    assert [(a.attempt, a.status_code, a.succeeded) for a in delivery.attempts] == [
        (1, 503, False),
        (2, 500, False),
        (3, 204, True),
    ]
    assert [a.at for a in delivery.attempts] == attempts_at
    assert len(waits) == 2
    assert waits[0] < waits[1]
    assert timedelta(seconds=24) <= waits[0] <= timedelta(seconds=36)
    assert timedelta(seconds=96) <= waits[1] <= timedelta(seconds=144)


def test_gives_up_after_eight_attempts_and_logs_each(
    session_factory: sessionmaker[Session], box: SecretBox
) -> None:
    _, delivery_id = _setup(session_factory, box)
    calls = 0

    def receiver(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls % 2:
            raise httpx.ConnectError("connection refused by 10.0.0.1", request=request)
        raise httpx.ReadTimeout("timed out", request=request)

    clock = NOW
    with _client(receiver) as client:
        for _ in range(policy.MAX_ATTEMPTS + 2):
            dispatcher.dispatch_due(session_factory, client, clock, box=box)
            delivery = _delivery(session_factory, delivery_id)
            if delivery.next_attempt_at is None:
                break
            clock = delivery.next_attempt_at
    assert calls == policy.MAX_ATTEMPTS == 8
    delivery = _delivery(session_factory, delivery_id)
    assert (delivery.status, delivery.attempt_count, delivery.next_attempt_at) == (
        "failed",
        8,
        None,
    )
    assert delivery.finished_at == clock
    assert [a.attempt for a in delivery.attempts] == list(range(1, 9))
    assert [a.error for a in delivery.attempts] == ["ConnectError", "ReadTimeout"] * 4
    assert all(a.status_code is None and not a.succeeded for a in delivery.attempts)
    gaps = [b.at - a.at for a, b in zip(delivery.attempts, delivery.attempts[1:], strict=False)]
    assert gaps == sorted(gaps)
    assert sum(gaps, timedelta()) > timedelta(hours=8)


def test_redirects_are_failures_not_followed(
    session_factory: sessionmaker[Session], box: SecretBox
) -> None:
    _, delivery_id = _setup(session_factory, box)
    hits: list[str] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        hits.append(str(request.url))
        return httpx.Response(302, headers={"location": "http://169.254.169.254/"})

    with dispatcher.new_client(transport=httpx.MockTransport(receiver)) as client:
        report = dispatcher.dispatch_due(session_factory, client, NOW, box=box)
    assert report.retrying == 1
    assert hits == [URL]
    (attempt,) = _delivery(session_factory, delivery_id).attempts
    assert (attempt.status_code, attempt.succeeded) == (302, False)


def test_a_claimed_delivery_is_not_sent_twice(
    session_factory: sessionmaker[Session], box: SecretBox
) -> None:
    """A second dispatcher running at the same moment finds nothing due."""
    _setup(session_factory, box)
    seen = 0

    def receiver(request: httpx.Request) -> httpx.Response:
        nonlocal seen
        seen += 1
        # While the first dispatcher is sending, a second one runs.
        assert dispatcher.dispatch_due(session_factory, client, NOW, box=box).claimed == 0
        return httpx.Response(204)

    with _client(receiver) as client:
        assert dispatcher.dispatch_due(session_factory, client, NOW, box=box).delivered == 1
    assert seen == 1


def test_deleted_endpoints_get_nothing(
    session_factory: sessionmaker[Session], box: SecretBox
) -> None:
    _, delivery_id = _setup(session_factory, box)
    with session_factory.begin() as session:
        delivery = session.get_one(WebhookDelivery, delivery_id)
        tenant, endpoint = delivery.tenant_id, delivery.endpoint_id
        # Simulate a delete racing the claim: the delivery is still pending.
        outbox.delete_endpoint(session, tenant, endpoint, now=NOW)
        delivery.status, delivery.next_attempt_at = "pending", NOW

    def receiver(request: httpx.Request) -> httpx.Response:
        raise AssertionError("nothing may be sent to a deleted endpoint")

    with _client(receiver) as client:
        report = dispatcher.dispatch_due(session_factory, client, NOW, box=box)
    assert report == dispatcher.DispatchReport(claimed=1, cancelled=1)
    assert _delivery(session_factory, delivery_id).status == "cancelled"


def test_many_deliveries_in_one_pass(
    session_factory: sessionmaker[Session], box: SecretBox
) -> None:
    tenant, _ = issue_key(session_factory, [])
    with session_factory.begin() as session:
        for _ in range(3):
            outbox.register_endpoint(session, box, tenant, URL, [outbox.EVENT_STATUS_CHANGED])
        for account in range(4):
            outbox.enqueue_status_changed(
                session, tenant, f"acct-{account}", "L2", "L2", [], None, now=NOW
            )
    with _client(lambda request: httpx.Response(204)) as client:
        first = dispatcher.dispatch_due(session_factory, client, NOW, box=box, limit=10)
        rest = dispatcher.dispatch_due(session_factory, client, NOW, box=box, limit=10)
    assert (first.delivered, rest.delivered) == (10, 2)


def test_a_real_loopback_receiver_verifies_the_signature(
    session_factory: sessionmaker[Session], box: SecretBox
) -> None:
    with loopback_receiver(statuses=[500]) as receiver:
        secret, delivery_id = _setup(session_factory, box, url=receiver.url)
        with dispatcher.new_client() as client:
            dispatcher.dispatch_due(session_factory, client, NOW, box=box)
            retry_at = _delivery(session_factory, delivery_id).next_attempt_at
            assert retry_at is not None
            dispatcher.dispatch_due(session_factory, client, retry_at, box=box)
    first, second = receiver.received
    assert first.path == "/hooks"
    assert first.headers["webhook-id"] == second.headers["webhook-id"]  # stable across retries
    assert first.body == second.body
    signing.verify(secret, first.headers, first.body, now=int(NOW.timestamp()))
    signing.verify(secret, second.headers, second.body, now=int(retry_at.timestamp()))
    assert first.headers["user-agent"].startswith("realname-webhooks/")
    delivery = _delivery(session_factory, delivery_id)
    assert [(a.status_code, a.succeeded) for a in delivery.attempts] == [(500, False), (204, True)]


def test_a_refused_connection_is_logged_by_class(
    session_factory: sessionmaker[Session], box: SecretBox
) -> None:
    with loopback_receiver() as receiver:
        closed_url = receiver.url
    _, delivery_id = _setup(session_factory, box, url=closed_url)
    with dispatcher.new_client() as client:
        assert dispatcher.dispatch_due(session_factory, client, NOW, box=box).retrying == 1
    (attempt,) = _delivery(session_factory, delivery_id).attempts
    assert (attempt.status_code, attempt.error) == (None, "ConnectError")


def test_the_background_loop_delivers(
    session_factory: sessionmaker[Session], box: SecretBox
) -> None:
    _, delivery_id = _setup(session_factory, box, now=None)  # the loop reads the real clock

    async def main() -> None:
        with _client(lambda request: httpx.Response(204)) as client:
            async with dispatcher.dispatching(session_factory, box, interval=0.01, client=client):
                with anyio.fail_after(10):
                    while _delivery(session_factory, delivery_id).status != "delivered":
                        await anyio.sleep(0.01)

    anyio.run(main)
    assert _delivery(session_factory, delivery_id).attempt_count == 1


def test_the_command_line_entry_point_sends_what_is_due(
    session_factory: sessionmaker[Session], database_url: str, tmp_path: Path
) -> None:
    settings = Settings(var_dir=tmp_path, database_url=database_url)
    box = SecretBox.from_keyring(load_keyring(settings))
    with loopback_receiver() as receiver:
        tenant, _ = issue_key(session_factory, [])
        with session_factory.begin() as session:
            outbox.register_endpoint(
                session, box, tenant, receiver.url, [outbox.EVENT_STATUS_CHANGED]
            )
            outbox.enqueue_status_changed(session, tenant, "acct-1", "L2", "L2", [], None)
        report = dispatcher.run(settings, once=True)
    assert report == dispatcher.DispatchReport(claimed=1, delivered=1)
    assert len(receiver.received) == 1
