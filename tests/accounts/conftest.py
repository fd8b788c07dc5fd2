"""Shared pieces of the accounts tests: a vault, a sandbox SMS gateway, a tenant, a clock."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session, sessionmaker

from realname.authorities.sandbox.sms import SandboxSmsGateway
from realname.privacy.keys import Keyring
from realname.privacy.vault import Vault
from realname.store.repositories import tenants
from tests.authorities.support import XIAOMING, provider

VAULT = Vault(Keyring.generate())
#: Every test's clock starts here; tests move it by passing ``now=``.
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

PHONE_A = "13912345678"
PHONE_B = "18612340003"
PHONE_C = "13800138000"
SUSPENDED = "13700000001"
UNKNOWN = "13600000002"  # a valid number the sandbox carriers never issued

REGISTRY = {
    "citizens": [XIAOMING],
    "phones": [
        {"number": PHONE_A, "carrier": "cmcc", "owner": "a", "status": "normal"},
        {"number": PHONE_B, "carrier": "cucc", "owner": "a", "status": "normal"},
        {"number": PHONE_C, "carrier": "cmcc", "owner": "a", "status": "normal"},
        {"number": SUSPENDED, "carrier": "cmcc", "owner": "a", "status": "suspended"},
    ],
}

_CODE = re.compile(r"(?<!\d)(\d{6})(?!\d)")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def vault() -> Vault:
    return VAULT


@pytest.fixture
def gateway() -> SandboxSmsGateway:
    sandbox = provider(REGISTRY)
    return SandboxSmsGateway(sandbox.store, sandbox.world_id)


@pytest.fixture
def tenant_id(session_factory: sessionmaker[Session]) -> str:
    with session_factory.begin() as session:
        return tenants.create_tenant(session, "lender").id


def last_code(gateway: SandboxSmsGateway, phone: str) -> str:
    """The code in the newest message to ``phone``, read as a developer would."""
    messages = gateway.messages_to(phone)
    assert messages, "no message was sent to this phone"
    match = _CODE.search(messages[-1].text)
    assert match is not None
    return match.group(1)


def wrong(code: str) -> str:
    """A six-digit code that is certainly not ``code``."""
    return f"{(int(code) + 1) % 1_000_000:06d}"
