"""The sandbox SMS gateway: delivers only to numbers a carrier would deliver to.

A message to a number the sandbox world knows with status ``normal`` is delivered
(SMPP status ``DELIVRD``); to a suspended, cancelled or unknown number it is not
(``UNDELIV``). Every message is kept in :attr:`SandboxSmsGateway.outbox` so that a
developer (and the ``diagnose`` run, which answers the code itself) can read it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from realname.authorities.sandbox.store import SandboxStore
from realname.authorities.sms import SmsDelivery, SmsMessage


class SandboxSmsGateway:
    def __init__(self, store: SandboxStore, world_id: int) -> None:
        self.store = store
        self.world_id = world_id
        self.outbox: list[SmsMessage] = []

    def deliverable(self, phone: str) -> bool:
        row = self.store.phone(self.world_id, phone)
        return row is not None and row.status == "normal"

    async def send(self, phone: str, text: str) -> SmsDelivery:
        delivered = self.deliverable(phone)
        message_id = uuid.uuid4().hex
        self.outbox.append(
            SmsMessage(
                message_id=message_id,
                phone=phone,
                text=text,
                sent_at=datetime.now(UTC),
                delivered=delivered,
            )
        )
        return SmsDelivery(
            message_id=message_id,
            delivered=delivered,
            status="DELIVRD" if delivered else "UNDELIV",
        )

    def messages_to(self, phone: str) -> list[SmsMessage]:
        """What a developer reads in the sandbox: every message sent to ``phone``."""
        return [message for message in self.outbox if message.phone == phone]
