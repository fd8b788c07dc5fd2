"""Phone bindings: move an account to a new phone and keep the old one in history.

The account row holds the current phone (encrypted, with its blind index); each
change closes the open :class:`~realname.store.models.PhoneBinding` and opens a new
one. Accounts created before any change have no binding rows: the first change
writes the original binding (reason ``signup``) from the account row itself.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from realname.privacy.vault import DataErased, Vault
from realname.store.models import Account, Person, PhoneBinding
from realname.store.repositories.people import (
    ACCOUNT_PHONE_FIELD,
    ACCOUNTS_TABLE,
    canonical_value,
    read_account_phone,
)
from realname.store.types import new_id

BINDINGS_TABLE = PhoneBinding.__tablename__


def _binding(
    vault: Vault, person: Person, account_id: str, phone: str, reason: str, at: datetime
) -> PhoneBinding:
    binding_id = new_id()
    return PhoneBinding(
        id=binding_id,
        account_id=account_id,
        phone_ciphertext=vault.encrypt(
            person, phone, table=BINDINGS_TABLE, row_id=binding_id, field="phone"
        ),
        phone_blind_index=vault.blind_index("phone", phone),
        reason=reason,
        bound_at=at,
    )


def list_bindings(session: Session, account_id: str) -> list[PhoneBinding]:
    """Every binding of the account, oldest first."""
    return list(
        session.scalars(
            select(PhoneBinding)
            .where(PhoneBinding.account_id == account_id)
            .order_by(PhoneBinding.bound_at, PhoneBinding.id)
        )
    )


def rebind_phone(
    session: Session, vault: Vault, account: Account, phone: str, *, at: datetime
) -> PhoneBinding:
    """Bind ``account`` to ``phone`` from ``at`` on; the previous binding is closed."""
    if account.person_id is None:
        raise DataErased()
    person = session.get(Person, account.person_id)
    if person is None:
        raise DataErased()
    new_phone = canonical_value("phone", phone)
    history = list_bindings(session, account.id)
    if not history and account.phone_ciphertext is not None:
        original = _binding(
            vault,
            person,
            account.id,
            read_account_phone(session, vault, account),
            "signup",
            account.created_at,
        )
        session.add(original)
        history = [original]
    for binding in history:
        if binding.unbound_at is None:
            binding.unbound_at = at
    current = _binding(vault, person, account.id, new_phone, "phone_change", at)
    session.add(current)
    account.phone_ciphertext = vault.encrypt(
        person, new_phone, table=ACCOUNTS_TABLE, row_id=account.id, field=ACCOUNT_PHONE_FIELD
    )
    account.phone_blind_index = vault.blind_index("phone", new_phone)
    session.flush()
    return current
