"""A copy of everything the platform holds about a user, for the user (PIPL Art. 45).

The data subject may obtain a copy of their personal information; this is their own
data, so it is decrypted and not masked. What it gathers, across every account the
person holds on this tenant: the identity elements as submitted, the login and bound
phones (换绑 history), consents given and withdrawn, each verification result with
its causes, each check made with it (which authority, when, the outcome — what an
authority was asked about them), credit applications as decided, and the audit
entries that concern them. Producing the copy is itself audited, without the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from realname.privacy.vault import DataErased, Vault
from realname.store.models import (
    Account,
    AuditEntry,
    Consent,
    CreditApplication,
    Person,
    PhoneBinding,
    VerificationCheck,
    VerificationResult,
)
from realname.store.repositories import audit
from realname.store.repositories.bindings import BINDINGS_TABLE
from realname.store.repositories.people import read_account_phone, read_identity

EXPORT_FORMAT = "realname.export/1"


@dataclass(frozen=True)
class Export:
    """The copy, as plain JSON-ready data (ISO 8601 UTC times, money in fen)."""

    document: dict[str, Any]


def _when(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _binding_phone(vault: Vault, person: Person, binding: PhoneBinding) -> str | None:
    if binding.phone_ciphertext is None:
        return None
    return vault.decrypt(
        person, binding.phone_ciphertext, table=BINDINGS_TABLE, row_id=binding.id, field="phone"
    )


def _accounts(session: Session, account: Account) -> list[Account]:
    """Every account of the same person on the tenant, or just this one before a person."""
    if account.person_id is None:
        return [account]
    return list(
        session.scalars(
            select(Account)
            .where(Account.person_id == account.person_id, Account.tenant_id == account.tenant_id)
            .order_by(Account.created_at, Account.id)
        )
    )


_Row = TypeVar("_Row", PhoneBinding, VerificationResult, VerificationCheck, CreditApplication)


def _of_account(
    session: Session, model: type[_Row], account_id: str, when: InstrumentedAttribute[datetime]
) -> list[_Row]:
    """The account's rows of ``model``, oldest first (ties by id, for a stable copy)."""
    return list(
        session.scalars(
            select(model).where(model.account_id == account_id).order_by(when, model.id)
        )
    )


def _account_section(
    session: Session, vault: Vault, person: Person | None, account: Account
) -> dict[str, Any]:
    try:
        phone: str | None = read_account_phone(session, vault, account)
    except DataErased:
        phone = None
    bindings = _of_account(session, PhoneBinding, account.id, PhoneBinding.bound_at)
    results = _of_account(session, VerificationResult, account.id, VerificationResult.created_at)
    checks = _of_account(session, VerificationCheck, account.id, VerificationCheck.created_at)
    applications = _of_account(session, CreditApplication, account.id, CreditApplication.created_at)
    return {
        "account_id": account.id,
        "created_at": _when(account.created_at),
        "phone": phone,
        "phone_history": [
            {
                "phone": _binding_phone(vault, person, b) if person is not None else None,
                "reason": b.reason,
                "bound_at": _when(b.bound_at),
                "unbound_at": _when(b.unbound_at),
            }
            for b in bindings
        ],
        "verification_results": [
            {
                "at": _when(r.created_at),
                "level_reached": r.level_reached,
                "level_needed": r.level_needed,
                "product": r.product,
                "causes": [{"code": c.code, "severity": c.severity} for c in r.causes],
            }
            for r in results
        ],
        "checks": [
            {
                "at": _when(c.created_at),
                "check": c.check_kind,
                "authority": c.provider,
                "outcome": c.outcome,
            }
            for c in checks
        ],
        "credit_applications": [
            {
                "at": _when(a.created_at),
                "amount_fen": a.amount_fen,
                "term_months": a.term_months,
                "decision": a.decision,
                "credit_limit_fen": a.limit_fen,
                "score": a.score,
                "reasons": list(a.reasons),
                "review_state": a.review_state,
                "review_outcome": a.review_outcome,
            }
            for a in applications
        ],
    }


def _consents(session: Session, person_id: str | None, account_ids: list[str]) -> list[Any]:
    subject: ColumnElement[bool] = Consent.account_id.in_(account_ids)
    if person_id is not None:
        subject = or_(subject, Consent.person_id == person_id)
    return [
        {
            "kind": c.kind,
            "purpose": c.purpose,
            "granted_at": _when(c.granted_at),
            "withdrawn_at": _when(c.withdrawn_at),
        }
        for c in session.scalars(
            select(Consent).where(subject).order_by(Consent.granted_at, Consent.id)
        )
    ]


def _audit_trail(session: Session, person_id: str | None, account_ids: list[str]) -> list[Any]:
    targets = [f"account:{a}" for a in account_ids]
    if person_id is not None:
        targets.append(f"person:{person_id}")
    return [
        {"at": _when(e.at), "action": e.action, "by": e.actor.split(":", 1)[0]}
        for e in session.scalars(
            select(AuditEntry).where(AuditEntry.target.in_(targets)).order_by(AuditEntry.seq)
        )
    ]


def export_user(
    session: Session, vault: Vault, account: Account, *, actor: str, now: datetime
) -> Export:
    """The user's copy; :class:`DataErased` if they were erased (nothing left to copy)."""
    person = session.get(Person, account.person_id) if account.person_id else None
    identity = read_identity(session, vault, person) if person is not None else {}
    accounts = _accounts(session, account)
    account_ids = [a.id for a in accounts]
    document = {
        "format": EXPORT_FORMAT,
        "generated_at": now.isoformat(),
        "identity": identity,
        "accounts": [_account_section(session, vault, person, a) for a in accounts],
        "consents": _consents(session, account.person_id, account_ids),
        "audit": _audit_trail(session, account.person_id, account_ids),
    }
    audit.append(
        session,
        actor,
        "user.exported",
        f"account:{account.id}",
        {"accounts": len(accounts), "format": EXPORT_FORMAT},
    )
    return Export(document)
