"""SMS gateways: how one-time codes reach a phone.

The protocol is what the accounts and verification code call; the sandbox gateway
(:class:`realname.authorities.sandbox.sms.SandboxSmsGateway`) keeps every message in
an outbox a developer can read, and — like a real gateway — cannot deliver to a
number that is suspended, cancelled or was never issued.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class SmsDelivery:
    message_id: str
    delivered: bool
    #: The gateway's status code (e.g. ``DELIVRD``, ``UNDELIV``), as SMPP reports.
    status: str


@dataclass(frozen=True)
class SmsMessage:
    message_id: str
    phone: str
    text: str
    sent_at: datetime
    delivered: bool


class SmsGateway(Protocol):
    async def send(self, phone: str, text: str) -> SmsDelivery: ...
