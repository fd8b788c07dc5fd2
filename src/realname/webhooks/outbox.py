"""Endpoints, and the outbox of deliveries written with the change they report.

Transactional outbox: :func:`enqueue_status_changed` adds one
:class:`~realname.store.models.WebhookDelivery` row per subscribed endpoint in the
caller's transaction, so an event exists exactly when the state change it reports
was committed — never a webhook for a rolled-back verification, never a lost one for
a committed verification. :mod:`realname.webhooks.dispatcher` sends them later.

Payloads name the account by its id and carry levels and cause codes only: no name,
ID number, phone or card ever leaves in a webhook.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session, selectinload

from realname.errors import BadRequest, NotFound
from realname.store.models import WebhookDelivery, WebhookEndpoint
from realname.store.prepared import Prepared
from realname.store.tables import table_of
from realname.store.types import new_id, utcnow
from realname.webhooks.errors import WebhookLimitReached
from realname.webhooks.policy import check_url
from realname.webhooks.sealing import SecretBox
from realname.webhooks.signing import generate_secret

EVENT_STATUS_CHANGED = "verification.status_changed"
#: Every event type an endpoint can subscribe to.
EVENT_TYPES = (EVENT_STATUS_CHANGED,)
MAX_ENDPOINTS_PER_TENANT = 20
MAX_DELIVERIES_LISTED = 200


@dataclass(frozen=True)
class RegisteredEndpoint:
    """A new endpoint and its signing secret — the only time the secret is shown."""

    endpoint: WebhookEndpoint
    secret: str


def register_endpoint(
    session: Session,
    box: SecretBox,
    tenant_id: str,
    url: str,
    events: Sequence[str],
    *,
    now: datetime | None = None,
) -> RegisteredEndpoint:
    """Add an endpoint for ``tenant_id`` with a fresh signing secret (sealed at rest)."""
    checked = check_url(url)
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if unknown or not events:
        raise BadRequest("Subscribe to at least one known event type.", field="events")
    if len(list_endpoints(session, tenant_id)) >= MAX_ENDPOINTS_PER_TENANT:
        raise WebhookLimitReached(limit=MAX_ENDPOINTS_PER_TENANT)
    secret = generate_secret()
    endpoint_id = new_id()
    endpoint = WebhookEndpoint(
        id=endpoint_id,
        tenant_id=tenant_id,
        url=checked,
        events=sorted(set(events)),
        secret_ciphertext=box.seal(endpoint_id, secret),
        created_at=now or utcnow(),
    )
    session.add(endpoint)
    session.flush()
    return RegisteredEndpoint(endpoint, secret)


# Built once, run as Core: every verification that changes a status asks who listens.
_ENDPOINTS = table_of(WebhookEndpoint)
_LIVE_ENDPOINT_EVENTS = Prepared(
    select(_ENDPOINTS.c.id, _ENDPOINTS.c.events)
    .where(_ENDPOINTS.c.tenant_id == bindparam("tenant_id"), _ENDPOINTS.c.deleted_at.is_(None))
    .order_by(_ENDPOINTS.c.created_at, _ENDPOINTS.c.id)
)
_INSERT_DELIVERIES = Prepared(insert(table_of(WebhookDelivery)))


def list_endpoints(session: Session, tenant_id: str) -> list[WebhookEndpoint]:
    """The tenant's endpoints that are not deleted, oldest first."""
    return list(
        session.scalars(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.tenant_id == tenant_id, WebhookEndpoint.deleted_at.is_(None))
            .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
        )
    )


def get_endpoint(session: Session, tenant_id: str, endpoint_id: str) -> WebhookEndpoint:
    """One live endpoint of the tenant; another tenant's looks exactly like a missing one."""
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.tenant_id != tenant_id or endpoint.deleted_at is not None:
        raise NotFound("No such webhook endpoint.")
    return endpoint


def delete_endpoint(
    session: Session, tenant_id: str, endpoint_id: str, *, now: datetime | None = None
) -> None:
    """Stop sending to an endpoint: its secret is destroyed, pending deliveries cancelled.

    The row stays (without its secret) so that the deliveries already made remain in
    the log of what was sent where.
    """
    endpoint = get_endpoint(session, tenant_id, endpoint_id)
    when = now or utcnow()
    endpoint.deleted_at = when
    endpoint.secret_ciphertext = None
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.status == "pending")
        .values(status="cancelled", next_attempt_at=None, finished_at=when)
    )
    session.flush()


def list_deliveries(
    session: Session, tenant_id: str, endpoint_id: str, *, limit: int = 50
) -> list[WebhookDelivery]:
    """An endpoint's deliveries, newest first, each with every attempt."""
    get_endpoint(session, tenant_id, endpoint_id)
    return list(
        session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint_id)
            .options(selectinload(WebhookDelivery.attempts))
            .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id)
            .limit(max(1, min(limit, MAX_DELIVERIES_LISTED)))
        )
    )


def _timestamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def status_changed_payload(
    *,
    event_id: str,
    created_at: datetime,
    account_id: str,
    level: str,
    needed: str,
    causes: Sequence[str],
    previous_level: str | None,
) -> str:
    """The JSON body of a ``verification.status_changed`` event (compact, UTF-8)."""
    document: dict[str, Any] = {
        "id": event_id,
        "type": EVENT_STATUS_CHANGED,
        "created_at": _timestamp(created_at),
        "data": {
            "user_id": account_id,
            "level": level,
            "needed": needed,
            "causes": list(causes),
            "previous_level": previous_level,
        },
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


@dataclass(frozen=True, slots=True)
class QueuedDelivery:
    """A delivery as :func:`enqueue_status_changed` queued it (plain data: the row is
    written, and the dispatcher reads :class:`WebhookDelivery` rows afresh)."""

    id: str
    endpoint_id: str
    tenant_id: str
    event_id: str
    event_type: str
    payload: str
    status: str
    attempt_count: int
    next_attempt_at: datetime
    created_at: datetime


def status_subscribers(session: Session, tenant_id: str) -> list[str]:
    """The tenant's live endpoints that subscribe to status changes."""
    return [
        endpoint_id
        for endpoint_id, events in _LIVE_ENDPOINT_EVENTS.all(session, {"tenant_id": tenant_id})
        if EVENT_STATUS_CHANGED in events
    ]


def enqueue_status_changed(
    session: Session,
    tenant_id: str,
    account_id: str,
    level: str,
    needed: str,
    causes: list[str],
    previous_level: str | None,
    *,
    now: datetime | None = None,
    subscribed: Sequence[str] | None = None,
) -> list[QueuedDelivery]:
    """Queue a ``verification.status_changed`` event for every subscribed endpoint.

    Call it inside the transaction that recorded the verification, after the level or
    the causes changed; it only adds rows, and commits nothing. ``causes``
    are cause codes (DESIGN §4), ``level``/``needed``/``previous_level`` level names
    (``"L2"``). Returns the deliveries queued — none when no endpoint subscribes.

    ``subscribed``: the endpoints :func:`status_subscribers` answered earlier (the
    verification reads them with its history, so that its writing transaction only
    writes); read here when not given.
    """
    if subscribed is None:
        subscribed = status_subscribers(session, tenant_id)
    if not subscribed:
        return []
    when = now or utcnow()
    event_id = new_id()
    payload = status_changed_payload(
        event_id=event_id,
        created_at=when,
        account_id=account_id,
        level=level,
        needed=needed,
        causes=causes,
        previous_level=previous_level,
    )
    rows: list[dict[str, Any]] = [
        {
            "id": new_id(),
            "endpoint_id": endpoint_id,
            "tenant_id": tenant_id,
            "event_id": event_id,
            "event_type": EVENT_STATUS_CHANGED,
            "payload": payload,
            "status": "pending",
            "attempt_count": 0,
            "next_attempt_at": when,
            "created_at": when,
        }
        for endpoint_id in subscribed
    ]
    session.flush()  # rows the ORM still holds go first
    _INSERT_DELIVERIES.run(session, rows)
    return [QueuedDelivery(**row) for row in rows]


__all__ = [
    "EVENT_STATUS_CHANGED",
    "EVENT_TYPES",
    "MAX_ENDPOINTS_PER_TENANT",
    "QueuedDelivery",
    "RegisteredEndpoint",
    "delete_endpoint",
    "enqueue_status_changed",
    "get_endpoint",
    "list_deliveries",
    "list_endpoints",
    "register_endpoint",
    "status_changed_payload",
    "status_subscribers",
]
