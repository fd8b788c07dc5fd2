"""v1 webhooks: register endpoints for status-change events, read the delivery log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from realname.api.deps import ContextDep, PrincipalDep, SessionDep, require_scope
from realname.api.routing import SessionEndingRoute
from realname.store.models import WebhookDelivery, WebhookEndpoint
from realname.webhooks import outbox
from realname.webhooks.sealing import SecretBox

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"], route_class=SessionEndingRoute)
Write = Depends(require_scope("webhooks:write"))
Read = Depends(require_scope("webhooks:read"))

EventType = Literal["verification.status_changed"]


class WebhookIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://lender.example/hooks/realname",
                    "events": ["verification.status_changed"],
                }
            ]
        },
    )
    url: str = Field(min_length=1, max_length=2048)
    events: list[EventType] = Field(min_length=1, max_length=len(outbox.EVENT_TYPES))


class WebhookOut(BaseModel):
    id: str
    url: str
    events: list[str]
    created_at: datetime


class WebhookCreatedOut(WebhookOut):
    secret: str = Field(
        description=(
            "The Standard Webhooks signing secret (`whsec_…`). Shown only in this answer: "
            "store it to verify `webhook-signature`."
        )
    )


class WebhookListOut(BaseModel):
    webhooks: list[WebhookOut]


class AttemptOut(BaseModel):
    attempt: int
    at: datetime
    status_code: int | None
    error: str | None
    latency_ms: int
    succeeded: bool


class DeliveryOut(BaseModel):
    id: str
    event_id: str
    event_type: str
    status: str
    attempt_count: int
    next_attempt_at: datetime | None
    created_at: datetime
    finished_at: datetime | None
    attempts: list[AttemptOut]


class DeliveryListOut(BaseModel):
    deliveries: list[DeliveryOut]


def _out(endpoint: WebhookEndpoint) -> WebhookOut:
    return WebhookOut.model_validate(endpoint, from_attributes=True)


def _delivery_out(delivery: WebhookDelivery) -> DeliveryOut:
    return DeliveryOut.model_validate(delivery, from_attributes=True)


@router.post("", response_model=WebhookCreatedOut, status_code=201, dependencies=[Write])
def create_webhook(
    body: WebhookIn, session: SessionDep, context: ContextDep, principal: PrincipalDep
) -> WebhookCreatedOut:
    """Register an https:// endpoint; the answer holds its signing secret, shown once."""
    registered = outbox.register_endpoint(
        session,
        SecretBox.from_keyring(context.vault.keyring),
        str(principal.tenant_id),
        body.url,
        list(body.events),
    )
    return WebhookCreatedOut(**_out(registered.endpoint).model_dump(), secret=registered.secret)


@router.get("", response_model=WebhookListOut, dependencies=[Read])
def list_webhooks(session: SessionDep, principal: PrincipalDep) -> WebhookListOut:
    """The tenant's endpoints (never their secrets)."""
    endpoints = outbox.list_endpoints(session, str(principal.tenant_id))
    return WebhookListOut(webhooks=[_out(endpoint) for endpoint in endpoints])


@router.delete("/{webhook_id}", status_code=204, dependencies=[Write])
def delete_webhook(webhook_id: str, session: SessionDep, principal: PrincipalDep) -> Response:
    """Stop sending to an endpoint: its secret is destroyed, pending deliveries cancelled."""
    outbox.delete_endpoint(session, str(principal.tenant_id), webhook_id)
    return Response(status_code=204)


@router.get("/{webhook_id}/deliveries", response_model=DeliveryListOut, dependencies=[Read])
def list_webhook_deliveries(
    webhook_id: str,
    session: SessionDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> DeliveryListOut:
    """The endpoint's deliveries, newest first, with every attempt (status, latency, error)."""
    deliveries = outbox.list_deliveries(session, str(principal.tenant_id), webhook_id, limit=limit)
    return DeliveryListOut(deliveries=[_delivery_out(delivery) for delivery in deliveries])
