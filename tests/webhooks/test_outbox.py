"""Endpoints and the outbox: deliveries written in the caller's transaction."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from realname.errors import BadRequest, NotFound
from realname.store.models import WebhookDelivery, WebhookEndpoint
from realname.webhooks import outbox
from realname.webhooks.errors import WebhookLimitReached, WebhookUrlRejected
from realname.webhooks.sealing import SecretBox
from tests.webhooks.conftest import NOW
from tests.webhooks.helpers import issue_key

pytestmark = pytest.mark.storage

URL = "https://lender.example/hooks"


def _deliveries(session: Session) -> list[WebhookDelivery]:
    return list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.endpoint_id)))


def test_register_list_and_delete(session_factory: sessionmaker[Session], box: SecretBox) -> None:
    tenant, _ = issue_key(session_factory, [])
    other, _ = issue_key(session_factory, [])
    with session_factory.begin() as session:
        registered = outbox.register_endpoint(
            session, box, tenant, URL, [outbox.EVENT_STATUS_CHANGED], now=NOW
        )
        outbox.register_endpoint(session, box, other, URL, [outbox.EVENT_STATUS_CHANGED])
    endpoint = registered.endpoint
    assert registered.secret.startswith("whsec_")
    with session_factory() as session:
        stored = session.get_one(WebhookEndpoint, endpoint.id)
        assert stored.secret_ciphertext is not None
        assert registered.secret.encode() not in stored.secret_ciphertext
        assert box.open(endpoint.id, stored.secret_ciphertext) == registered.secret
        assert [e.id for e in outbox.list_endpoints(session, tenant)] == [endpoint.id]
        with pytest.raises(NotFound):
            outbox.get_endpoint(session, other, endpoint.id)
    with session_factory.begin() as session:
        with pytest.raises(NotFound):
            outbox.delete_endpoint(session, other, endpoint.id)
        outbox.delete_endpoint(session, tenant, endpoint.id, now=NOW)
    with session_factory() as session:
        assert outbox.list_endpoints(session, tenant) == []
        gone = session.get_one(WebhookEndpoint, endpoint.id)
        assert gone.deleted_at == NOW
        assert gone.secret_ciphertext is None  # the secret is destroyed with the endpoint
        with pytest.raises(NotFound):
            outbox.list_deliveries(session, tenant, endpoint.id)


def test_register_refuses_bad_urls_unknown_events_and_too_many_endpoints(
    session_factory: sessionmaker[Session], box: SecretBox
) -> None:
    tenant, _ = issue_key(session_factory, [])
    with session_factory.begin() as session:
        with pytest.raises(WebhookUrlRejected):
            outbox.register_endpoint(session, box, tenant, "http://lender.example/", ["x"])
        with pytest.raises(BadRequest):
            outbox.register_endpoint(session, box, tenant, URL, ["user.deleted"])
        with pytest.raises(BadRequest):
            outbox.register_endpoint(session, box, tenant, URL, [])
        for _ in range(outbox.MAX_ENDPOINTS_PER_TENANT):
            outbox.register_endpoint(session, box, tenant, URL, [outbox.EVENT_STATUS_CHANGED])
        with pytest.raises(WebhookLimitReached):
            outbox.register_endpoint(session, box, tenant, URL, [outbox.EVENT_STATUS_CHANGED])


def test_enqueue_writes_one_delivery_per_subscribed_endpoint_only(
    session_factory: sessionmaker[Session], box: SecretBox
) -> None:
    tenant, _ = issue_key(session_factory, [])
    other, _ = issue_key(session_factory, [])
    with session_factory.begin() as session:
        first = outbox.register_endpoint(session, box, tenant, URL, [outbox.EVENT_STATUS_CHANGED])
        second = outbox.register_endpoint(session, box, tenant, URL, [outbox.EVENT_STATUS_CHANGED])
        deleted = outbox.register_endpoint(session, box, tenant, URL, [outbox.EVENT_STATUS_CHANGED])
        outbox.delete_endpoint(session, tenant, deleted.endpoint.id)
        # Subscribed to some future event only.
        session.add(WebhookEndpoint(id="ep-other-event", tenant_id=tenant, url=URL, events=["x.y"]))
        outbox.register_endpoint(session, box, other, URL, [outbox.EVENT_STATUS_CHANGED])
    with session_factory.begin() as session:
        queued = outbox.enqueue_status_changed(
            session, tenant, "acct-1", "L1", "L2", ["PHONE_NOT_OWNED"], "L0", now=NOW
        )
    assert sorted(d.endpoint_id for d in queued) == sorted([first.endpoint.id, second.endpoint.id])
    with session_factory() as session:
        rows = _deliveries(session)
    assert len(rows) == 2
    assert {row.event_id for row in rows} == {queued[0].event_id}  # one event, two endpoints
    for row in rows:
        assert (row.status, row.attempt_count, row.next_attempt_at) == ("pending", 0, NOW)
        assert row.tenant_id == tenant
        assert json.loads(row.payload) == {
            "id": row.event_id,
            "type": "verification.status_changed",
            "created_at": "2026-12-05T09:00:00.000000Z",
            "data": {
                "user_id": "acct-1",
                "level": "L1",
                "needed": "L2",
                "causes": ["PHONE_NOT_OWNED"],
                "previous_level": "L0",
            },
        }


def test_enqueue_without_subscribers_writes_nothing(
    session_factory: sessionmaker[Session],
) -> None:
    tenant, _ = issue_key(session_factory, [])
    with session_factory.begin() as session:
        assert outbox.enqueue_status_changed(session, tenant, "a", "L2", "L2", [], None) == []
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == 0


def test_a_rolled_back_verification_leaves_no_event(
    session_factory: sessionmaker[Session], box: SecretBox
) -> None:
    """The outbox pattern: the event commits or rolls back with the change it reports."""
    tenant, _ = issue_key(session_factory, [])
    with session_factory.begin() as session:
        outbox.register_endpoint(session, box, tenant, URL, [outbox.EVENT_STATUS_CHANGED])
    with session_factory() as session:
        outbox.enqueue_status_changed(session, tenant, "a", "L2", "L2", [], "L1")
        session.rollback()
    with session_factory() as session:
        assert _deliveries(session) == []


def test_deleting_an_endpoint_cancels_its_pending_deliveries(
    session_factory: sessionmaker[Session], box: SecretBox
) -> None:
    tenant, _ = issue_key(session_factory, [])
    with session_factory.begin() as session:
        endpoint = outbox.register_endpoint(
            session, box, tenant, URL, [outbox.EVENT_STATUS_CHANGED]
        ).endpoint
        outbox.enqueue_status_changed(session, tenant, "a", "L2", "L2", [], "L1", now=NOW)
    later = NOW + timedelta(minutes=1)
    with session_factory.begin() as session:
        outbox.delete_endpoint(session, tenant, endpoint.id, now=later)
    with session_factory() as session:
        (row,) = _deliveries(session)
    assert (row.status, row.next_attempt_at, row.finished_at) == ("cancelled", None, later)
