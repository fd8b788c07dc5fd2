"""Shared pieces of the ops tests: a vault, a clock, operators and an account with results."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from realname.ops.operators import Principal, Role, create_operator
from realname.privacy.keys import Keyring
from realname.privacy.vault import Vault
from realname.store.models import Account, VerificationResult
from realname.store.repositories.checks import CauseRecord, record_check, record_result
from realname.store.repositories.people import add_identity_element, create_account
from realname.store.repositories.tenants import create_tenant

VAULT = Vault(Keyring.generate())
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"
NAME, ID_NUMBER, PHONE = "王小明", "110105199003071239", "13912345678"


def operator(session: Session, username: str, role: Role) -> Principal:
    created = create_operator(session, username, PASSWORD, role, now=T0)
    return Principal(id=created.id, username=created.username, role=role)


def borrower(session: Session, vault: Vault = VAULT) -> Account:
    tenant = create_tenant(session, "lender")
    account = create_account(session, vault, tenant.id, PHONE)
    person = account.person_id
    assert person is not None
    from realname.store.models import Person

    holder = session.get(Person, person)
    assert holder is not None
    for kind, value in (("name", NAME), ("id_number", ID_NUMBER), ("phone", PHONE)):
        add_identity_element(session, vault, holder, kind, value, at=T0)
    return account


def result(
    session: Session,
    account: Account,
    *codes: str,
    level: str = "L1",
    needed: str = "L2",
    details: dict[str, object] | None = None,
) -> VerificationResult:
    record_check(
        session,
        tenant_id=account.tenant_id,
        account_id=account.id,
        check_kind="id_two_element",
        provider="sandbox",
        outcome="consistent",
        raw_code="0",
        raw_message="认证通过",
        provider_request_id="req-1",
        billable=True,
        cost_fen=30,
        latency_ms=120,
    )
    return record_result(
        session,
        account_id=account.id,
        level_reached=level,
        level_needed=needed,
        causes=[CauseRecord(code, "blocking", dict(details or {})) for code in codes],
    )
