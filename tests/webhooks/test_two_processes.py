"""Two API processes on one database deliver each webhook once, and finish what a dead
one claimed.

The dispatcher needs no lease: it claims each delivery with a conditional UPDATE (see
:mod:`realname.webhooks.dispatcher`). Each "process" here is an app of its own
(``create_app``, its own engine on the same SQLite file); the passes are the ones its
background loop runs, called from two threads at once.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from realname.api.app import create_app
from realname.api.context import AppContext
from realname.authorities.sandbox import SandboxProvider
from realname.authorities.sandbox.sms import SandboxSmsGateway
from realname.config import Settings
from realname.store.models import WebhookDelivery
from realname.webhooks import dispatcher, outbox
from realname.webhooks.sealing import SecretBox
from tests.api.conftest import settings
from tests.webhooks.conftest import NOW
from tests.webhooks.helpers import FIXTURE, issue_key

__all__ = ["settings"]

URL = "https://lender.example/hooks"
EVENTS = 30


@pytest.fixture
def processes(settings: Settings) -> Iterator[tuple[AppContext, AppContext]]:
    contexts = []
    for _ in range(2):
        scenario = FIXTURE.scenario("happy-l2-phone")
        provider = SandboxProvider.for_scenario(scenario, today=FIXTURE.today_for(scenario))
        gateway = SandboxSmsGateway(provider.store, provider.world_id)
        context = AppContext.from_settings(settings, provider=provider, sms=gateway)
        create_app(settings, context)
        contexts.append(context)
    yield contexts[0], contexts[1]
    for context in contexts:
        context.engine.dispose()


def _box(context: AppContext) -> SecretBox:
    return SecretBox.from_keyring(context.vault.keyring)


def _queue(context: AppContext, events: int) -> list[str]:
    tenant, _ = issue_key(context.session_factory, [])
    with context.session_factory.begin() as session:
        outbox.register_endpoint(session, _box(context), tenant, URL, [outbox.EVENT_STATUS_CHANGED])
        deliveries = [
            delivery
            for n in range(events)
            for delivery in outbox.enqueue_status_changed(
                session, tenant, f"acct-{n}", "L2", "L2", [], "L1", now=NOW
            )
        ]
        return [delivery.id for delivery in deliveries]


def _statuses(context: AppContext) -> Counter[str]:
    with context.session_factory() as session:
        return Counter(session.scalars(select(WebhookDelivery.status)))


def test_two_processes_deliver_every_webhook_exactly_once(
    processes: tuple[AppContext, AppContext],
) -> None:
    _queue(processes[0], EVENTS)
    received: Counter[str] = Counter()
    lock = threading.Lock()

    def receiver(request: httpx.Request) -> httpx.Response:
        time.sleep(0.002)  # long enough for the other process to try the same rows
        with lock:
            received[request.headers["webhook-id"]] += 1
        return httpx.Response(204)

    claimed: dict[int, int] = {}
    start = threading.Barrier(2)

    def run(index: int) -> None:
        context = processes[index]
        with httpx.Client(transport=httpx.MockTransport(receiver)) as client:
            start.wait()
            total = 0
            while True:
                report = dispatcher.dispatch_due(
                    context.session_factory, client, NOW, box=_box(context), limit=3, workers=2
                )
                total += report.claimed
                if report.claimed == 0:
                    break
            claimed[index] = total

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(received) == EVENTS
    assert set(received.values()) == {1}  # nobody got a message twice
    assert claimed[0] + claimed[1] == EVENTS
    assert _statuses(processes[0]) == Counter({"delivered": EVENTS})


def test_a_delivery_claimed_by_a_process_that_died_is_sent_by_another(
    processes: tuple[AppContext, AppContext],
) -> None:
    first, second = processes
    (delivery_id,) = _queue(first, 1)
    # The first process claims the delivery, then dies before sending it.
    jobs, _ = dispatcher._claim(first.session_factory, _box(first), NOW, 10, dispatcher.LEASE)
    assert [job.delivery_id for job in jobs] == [delivery_id]
    sent: list[str] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        sent.append(request.headers["webhook-id"])
        return httpx.Response(200)

    with httpx.Client(transport=httpx.MockTransport(receiver)) as client:
        early = NOW + dispatcher.LEASE - timedelta(seconds=1)
        report = dispatcher.dispatch_due(second.session_factory, client, early, box=_box(second))
        assert report.claimed == 0  # still claimed: not sent twice
        later = NOW + dispatcher.LEASE
        report = dispatcher.dispatch_due(second.session_factory, client, later, box=_box(second))
    assert report == dispatcher.DispatchReport(claimed=1, delivered=1)
    assert len(sent) == 1
    assert _statuses(second) == Counter({"delivered": 1})
