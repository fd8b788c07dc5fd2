"""The sandbox's SMS inbox, so a developer on the embedded defaults can sign in.

Only mounted in effect when the SMS gateway is the sandbox's: with a real gateway the
route answers 404. The phone travels in the body, not the URL, so it never reaches
an access log.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from realname.api.deps import ContextDep, require_scope
from realname.api.routing import SessionEndingRoute
from realname.authorities.sandbox.sms import SandboxSmsGateway
from realname.errors import NotFound
from realname.identity import phone as phones

router = APIRouter(prefix="/v1/sandbox", tags=["sandbox"], route_class=SessionEndingRoute)


class InboxIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"phone": "13912345678"}]}
    )
    phone: str = Field(max_length=32)


class MessageOut(BaseModel):
    message_id: str
    text: str
    sent_at: datetime
    delivered: bool


class InboxOut(BaseModel):
    messages: list[MessageOut]


@router.post(
    "/sms/inbox", response_model=InboxOut, dependencies=[Depends(require_scope("sandbox:read"))]
)
def sms_inbox(body: InboxIn, context: ContextDep) -> InboxOut:
    """Every message the sandbox gateway sent to the phone, newest last."""
    if not isinstance(context.sms, SandboxSmsGateway):
        raise NotFound("There is no sandbox SMS gateway in this deployment.")
    number = phones.validate(body.phone)
    return InboxOut(
        messages=[
            MessageOut(
                message_id=m.message_id, text=m.text, sent_at=m.sent_at, delivered=m.delivered
            )
            for m in context.sms.messages_to(number)
        ]
    )
