"""v1 face sessions (人脸核身): a random action challenge, one frame upload, the result.

1. ``POST /v1/users/{id}/face/sessions`` — the user (at L2, with face consent)
   gets a challenge: ``actions`` to perform in order, a ``nonce``, ``expires_at``.
2. ``POST /v1/users/{id}/face/sessions/{sid}/frames`` — the client films the user
   doing them and sends 2–12 frames (JSON, each a base64 JPEG or PNG, the first one
   with the face still and frontal) with the nonce. The answer is the result.
3. ``GET /v1/users/{id}/face/sessions/{sid}`` — the result again.

The service is :mod:`realname.verification.face_sessions`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from realname.api.deps import (
    ContextDep,
    PrincipalDep,
    SessionDep,
    require_scope,
    transaction,
)
from realname.api.routing import SessionEndingRoute
from realname.errors import BadRequest
from realname.store.types import utcnow
from realname.verification import face_sessions as faces
from realname.verification import users
from realname.verification.policy import ProductPolicy

router = APIRouter(prefix="/v1/users", tags=["face"], route_class=SessionEndingRoute)
Write = Depends(require_scope("users:write"))
Read = Depends(require_scope("users:read"))

#: The product a face session works toward unless the caller names another L3 one.
DEFAULT_PRODUCT = "credit_large"


class StartIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"product": "credit_large"}]}
    )
    product: str = Field(default=DEFAULT_PRODUCT, max_length=64)


#: An empty or missing body starts toward :data:`DEFAULT_PRODUCT`.
NO_BODY = StartIn()


class StartedOut(BaseModel):
    session_id: str
    nonce: str = Field(description="Send it back with the frames; it is good for one upload")
    actions: list[str] = Field(description="blink, turn_left, turn_right, open_mouth, in order")
    expires_at: datetime
    min_frames: int = faces.MIN_FRAMES
    max_frames: int = faces.MAX_FRAMES
    max_frame_bytes: int = faces.MAX_FRAME_BYTES


class FrameIn(BaseModel):
    media_type: str = Field(max_length=32, examples=["image/jpeg"])
    content_base64: str = Field(max_length=2_500_000, examples=["/9j/4AAQSkZJRgABAQ…"])


class FramesIn(BaseModel):
    """The frames, in the order filmed: first the face still and frontal, then the
    user doing each challenged action (a few frames per action is best)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "nonce": "9dR2…",
                    "frames": [
                        {"media_type": "image/jpeg", "content_base64": "/9j/4AAQ…"},
                        {"media_type": "image/jpeg", "content_base64": "/9j/4AAQ…"},
                        {"media_type": "image/jpeg", "content_base64": "/9j/4AAQ…"},
                    ],
                }
            ]
        },
    )
    nonce: str = Field(max_length=128)
    frames: list[FrameIn] = Field(max_length=32)


class SessionOut(BaseModel):
    session_id: str
    state: str = Field(description="pending, passed, failed or expired")
    actions: list[str]
    product: str
    expires_at: datetime
    completed_at: datetime | None
    level: str | None = Field(description="The level reached after this check")
    causes: list[str] = Field(description="Cause codes (FACE_LIVENESS_FAILED, FACE_MISMATCH …)")
    result: dict[str, Any] = Field(
        description="Measurements only: liveness reason, codes, per-action frames, similarity"
    )


def _policy(context: Any, product: str) -> ProductPolicy:
    try:
        policy: ProductPolicy = context.policies.product(product)
    except KeyError:
        raise BadRequest("Unknown product.", field="product") from None
    return policy


@router.post("/{user_id}/face/sessions", response_model=StartedOut, dependencies=[Write])
def start_face_session(
    user_id: str,
    session: SessionDep,
    context: ContextDep,
    principal: PrincipalDep,
    body: StartIn = NO_BODY,
) -> StartedOut:
    """Start a face check: the actions to perform in order, a nonce and an expiry.

    Needs the user's separate face consent (403 ``CONSENT_MISSING``) and L2 reached
    (409 ``STEPS_INCOMPLETE``).
    """
    account = users.user_account(session, str(principal.tenant_id), user_id)
    started = faces.start_session(
        session,
        context.session_factory,
        account,
        _policy(context, body.product),
        now=utcnow(),
    )
    return StartedOut(
        session_id=started.session_id,
        nonce=started.nonce,
        actions=[action.value for action in started.actions],
        expires_at=started.expires_at,
    )


@router.post(
    "/{user_id}/face/sessions/{session_id}/frames",
    response_model=SessionOut,
    dependencies=[Write],
)
async def upload_face_frames(
    user_id: str,
    session_id: str,
    body: FramesIn,
    session: SessionDep,
    context: ContextDep,
    principal: PrincipalDep,
) -> SessionOut:
    """Judge the frames: liveness (actions in order, no flat replay), then comparison
    with the authoritative portrait; the user's level and causes are updated.

    422 ``FACE_FRAMES_COUNT`` / ``FACE_FRAME_TOO_LARGE`` / ``FACE_FRAME_INVALID`` for
    frames that cannot be judged (the nonce is not spent); 409 ``FACE_CHALLENGE_USED``
    for a second upload; 410 ``FACE_CHALLENGE_EXPIRED``; 403 ``FACE_CHALLENGE_INVALID``
    for a wrong nonce. Frames are not kept unless a retention period is configured.
    """
    with transaction(session):
        account = users.user_account(session, str(principal.tenant_id), user_id)
        row = faces.view(session, account, session_id, utcnow())
        result = await faces.upload_frames(
            session,
            context.session_factory,
            context.vault,
            context.provider,
            account,
            _policy(context, row.product),
            session_id=session_id,
            nonce=body.nonce,
            frames=[faces.RawFrame(f.media_type, f.content_base64) for f in body.frames],
            now=utcnow(),
            retention_days=context.settings.face_frame_retention_days,
        )
        return SessionOut.model_validate(result, from_attributes=True)


@router.get("/{user_id}/face/sessions/{session_id}", response_model=SessionOut, dependencies=[Read])
def get_face_session(
    user_id: str, session_id: str, session: SessionDep, principal: PrincipalDep
) -> SessionOut:
    """The session's state and, once judged, its result."""
    account = users.user_account(session, str(principal.tenant_id), user_id)
    return SessionOut.model_validate(
        faces.view(session, account, session_id, utcnow()), from_attributes=True
    )
