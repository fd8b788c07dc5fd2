"""Support lookup: find a user by phone or ID number through the blind index.

The typed number is normalised, turned into its HMAC blind index and matched against
the login phones of accounts and the current phone / ID-number elements of people;
the number itself is neither stored nor logged. Answers are masked account files.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from realname.identity import id_number as id_numbers
from realname.identity import phone as phones
from realname.ops.accountfile import AccountFile, account_file
from realname.ops.errors import OpsError
from realname.ops.operators import Principal
from realname.privacy.vault import Vault
from realname.store.models import Account, Tenant
from realname.store.repositories import audit
from realname.store.repositories.people import find_accounts_by_phone, find_people_by_element
from realname.verification.catalogue import Language

MAX_ACCOUNTS = 20


class LookupInvalid(OpsError):
    code = "OPS_LOOKUP_INVALID"
    http_status = 422
    default_message = "Enter a mainland mobile number or an 18-character ID number."


def kind_of(query: str) -> tuple[str, str]:
    """``("phone" | "id_number", normalised value)``, or :class:`LookupInvalid`."""
    text = "".join(query.split()).upper()
    if phones.is_valid(text):
        return "phone", str(phones.validate(text))
    if id_numbers.is_valid(text):
        return "id_number", str(id_numbers.validate(text))
    raise LookupInvalid()


def find_accounts(session: Session, vault: Vault, query: str) -> list[Account]:
    """Accounts of any tenant whose login phone, phone element or ID number matches."""
    kind, value = kind_of(query)
    found: dict[str, Account] = {}
    for tenant_id in session.scalars(select(Tenant.id)):
        if kind == "phone":
            for account in find_accounts_by_phone(session, vault, tenant_id, value):
                found.setdefault(account.id, account)
        people = find_people_by_element(session, vault, tenant_id, kind, value)
        if people:
            for account in session.scalars(
                select(Account).where(Account.person_id.in_([p.id for p in people]))
            ):
                found.setdefault(account.id, account)
    return sorted(found.values(), key=lambda a: (a.created_at, a.id))[:MAX_ACCOUNTS]


def lookup(
    session: Session,
    vault: Vault,
    query: str,
    language: Language,
    *,
    principal: Principal,
    now: datetime,
) -> list[AccountFile]:
    """The masked files of the matching accounts; the search itself is audited.

    The audit entry says who searched, by which kind of number and which accounts
    were shown — never the number.
    """
    kind, _value = kind_of(query)
    accounts = find_accounts(session, vault, query)
    files = [account_file(session, vault, account, language) for account in accounts]
    audit.append(
        session,
        principal.actor,
        "ops.lookup",
        f"lookup:{kind}",
        {"kind": kind, "accounts": [account.id for account in accounts]},
        at=now,
    )
    return files
