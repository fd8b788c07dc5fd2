"""People, their encrypted identity elements, and the accounts they log in with.

Every personal value goes through the :class:`~realname.privacy.vault.Vault`:
AES-256-GCM under the person's data key, bound to ``table``/``row id``/``field``,
plus an HMAC blind index for the kinds the platform looks up (ID number, phone,
bank card). Names are never a lookup key and get no index (PIPL Art. 6: collect
and derive no more than the purpose needs).

Validation of the values themselves belongs to ``realname.identity``; this module
only canonicalises formatting (full-width digits, spaces, dashes, a lower-case
``x``, a ``+86`` prefix) so that the same number always meets its blind index.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, cast

from sqlalchemy import CursorResult, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_state
from sqlalchemy.orm.instrumentation import manager_of_class
from sqlalchemy.orm.util import identity_key

from realname.errors import BadRequest, NotFound
from realname.privacy.vault import BLIND_INDEX_KINDS, DataErased, DataKeyHolder, Vault, shred
from realname.store.models import ELEMENT_KINDS, Account, IdentityElement, Person
from realname.store.prepared import Prepared
from realname.store.repositories import audit
from realname.store.tables import table_of
from realname.store.types import new_id, utcnow

ELEMENTS_TABLE = IdentityElement.__tablename__
ACCOUNTS_TABLE = Account.__tablename__
ACCOUNT_PHONE_FIELD = "phone"
ERASED_STATUS = "erased"

_SEPARATORS = re.compile(r"[\s\-]+")

# Built once and run as Core (bindparams, no ORM unit of work): every verification
# reads the identity's holders and the person's key and elements, and writes the new
# elements, and building a statement costs more CPU than running it.
_PEOPLE = table_of(Person)
_ELEMENTS = table_of(IdentityElement)
_PERSON_KEY = Prepared(
    select(_PEOPLE.c.id, _PEOPLE.c.wrapped_dek, _PEOPLE.c.kek_id).where(
        _PEOPLE.c.id == bindparam("person_id")
    )
)
_CURRENT_ELEMENTS = Prepared(
    select(
        _ELEMENTS.c.id,
        _ELEMENTS.c.person_id,
        _ELEMENTS.c.kind,
        _ELEMENTS.c.ciphertext,
        _ELEMENTS.c.blind_index,
        _ELEMENTS.c.created_at,
    )
    .where(_ELEMENTS.c.person_id == bindparam("person_id"), _ELEMENTS.c.superseded_at.is_(None))
    .order_by(_ELEMENTS.c.created_at, _ELEMENTS.c.id)
)
_SUPERSEDE = Prepared(
    update(_ELEMENTS)
    .where(
        _ELEMENTS.c.person_id == bindparam("holder"),
        _ELEMENTS.c.kind.in_(bindparam("kinds", expanding=True)),
        _ELEMENTS.c.superseded_at.is_(None),
    )
    .values(superseded_at=bindparam("at"))
)
_INSERT_ELEMENTS = Prepared(insert(_ELEMENTS))
#: Live people of a tenant whose current element of a kind has a blind index.
_HOLDER_CONDITIONS = (
    _PEOPLE.c.tenant_id == bindparam("tenant_id"),
    _PEOPLE.c.shredded_at.is_(None),
    _ELEMENTS.c.kind == bindparam("kind"),
    _ELEMENTS.c.blind_index == bindparam("index"),
    _ELEMENTS.c.superseded_at.is_(None),
)
_HOLDERS = (
    select(Person)
    .join(IdentityElement, IdentityElement.person_id == Person.id)
    .where(*_HOLDER_CONDITIONS)
    .order_by(Person.created_at, Person.id)
    .distinct()
)
#: Without DISTINCT (:func:`holder_ids` drops repeats in order): it runs on every
#: verification, and on SQLite a DISTINCT builds a temporary B-tree.
_HOLDER_IDS = Prepared(
    select(_PEOPLE.c.id)
    .join(_ELEMENTS, _ELEMENTS.c.person_id == _PEOPLE.c.id)
    .where(*_HOLDER_CONDITIONS)
    .order_by(_PEOPLE.c.created_at, _PEOPLE.c.id)
)


@dataclass(frozen=True)
class PersonKey:
    """A person's wrapped data key: all the vault needs to encrypt for them."""

    id: str
    wrapped_dek: bytes | None
    kek_id: str | None


@dataclass(frozen=True)
class StoredElement:
    """One stored identity element, as read (the value still encrypted)."""

    id: str
    person_id: str
    kind: str
    ciphertext: bytes
    blind_index: str | None
    created_at: datetime


class ElementLike(Protocol):
    """A stored element, read through Core (:class:`StoredElement`) or the ORM."""

    @property
    def id(self) -> str: ...

    @property
    def person_id(self) -> str: ...

    @property
    def kind(self) -> str: ...

    @property
    def ciphertext(self) -> bytes: ...


def canonical_value(kind: str, value: str) -> str:
    """The stored and indexed form of ``value``: formatting removed, content untouched.

    Names are only trimmed: the exact characters submitted matter for diagnosing
    character variants (DESIGN §4, NAME_CHARACTER_VARIANT). Numbers are NFKC-folded
    (full-width digits to ASCII), stripped of spaces and dashes, upper-cased (the
    GB 11643 check character ``X``), and phones lose a ``+86``/``0086`` prefix.
    """
    if kind not in ELEMENT_KINDS:
        raise BadRequest("Unknown identity element kind.", kind=kind)
    if kind == "name":
        result = value.strip()
    else:
        result = _SEPARATORS.sub("", unicodedata.normalize("NFKC", value)).upper()
        if kind == "phone":
            for prefix in ("+86", "0086"):
                if result.startswith(prefix):
                    result = result[len(prefix) :]
                    break
    if not result:
        raise BadRequest("An identity element is empty.", kind=kind)
    return result


# --- people ---------------------------------------------------------------------------


def create_person(session: Session, vault: Vault, tenant_id: str) -> Person:
    """A new data subject with a fresh data key wrapped under the current master key."""
    person_id = new_id()
    wrapped = vault.new_data_key(person_id)
    person = Person(
        id=person_id,
        tenant_id=tenant_id,
        wrapped_dek=wrapped.ciphertext,
        kek_id=wrapped.kek_id,
        created_at=utcnow(),
    )
    session.add(person)
    session.flush()
    return person


def person_key(session: Session, person_id: str) -> PersonKey | None:
    """The person's wrapped data key (``None``: no such person), without loading the row."""
    row = _PERSON_KEY.first(session, {"person_id": person_id})
    return PersonKey(row.id, row.wrapped_dek, row.kek_id) if row is not None else None


def get_person(session: Session, person_id: str, *, tenant_id: str | None = None) -> Person:
    """The person, or :class:`NotFound` (also for another tenant's person)."""
    person = session.get(Person, person_id)
    if person is None or (tenant_id is not None and person.tenant_id != tenant_id):
        raise NotFound("No such person.", person_id=person_id)
    return person


def add_identity_element(
    session: Session,
    vault: Vault,
    person: DataKeyHolder,
    kind: str,
    value: str,
    *,
    at: datetime | None = None,
) -> StoredElement:
    """Store a submitted element; the previous current element of that kind is superseded."""
    return add_identity_elements(session, vault, person, {kind: value}, at=at)[0]


def add_identity_elements(
    session: Session,
    vault: Vault,
    person: DataKeyHolder,
    values: Mapping[str, str],
    *,
    at: datetime | None = None,
    current: Iterable[StoredElement] | None = None,
) -> list[StoredElement]:
    """Store several submitted elements (one per kind) as :func:`add_identity_element`
    does each, in two statements: one UPDATE superseding the current elements of those
    kinds, one multi-row INSERT (a verification stores up to four at once).

    ``current`` is the person's current elements as the caller read them in this
    transaction (:func:`current_elements`): then only kinds among them can have
    anything to supersede, and with none (a first submission) no UPDATE runs.
    """
    if not values:
        return []
    if person.wrapped_dek is None:
        raise DataErased()
    canonical = {kind: canonical_value(kind, value) for kind, value in values.items()}
    when = at or utcnow()
    elements = []
    for kind, plain in canonical.items():
        element_id = new_id()
        elements.append(
            StoredElement(
                id=element_id,
                person_id=person.id,
                kind=kind,
                ciphertext=vault.encrypt(
                    person, plain, table=ELEMENTS_TABLE, row_id=element_id, field=kind
                ),
                blind_index=vault.blind_index(kind, plain) if kind in BLIND_INDEX_KINDS else None,
                created_at=when,
            )
        )
    session.flush()  # rows the ORM still holds (the person) go first: foreign keys
    kinds = list(canonical)
    if current is not None:
        held = {element.kind for element in current}
        kinds = [kind for kind in kinds if kind in held]
    if kinds:
        _SUPERSEDE.run(session, {"holder": person.id, "kinds": kinds, "at": when})
    _INSERT_ELEMENTS.run(session, [vars(element) for element in elements])
    return elements


def current_elements(session: Session, person: DataKeyHolder) -> list[StoredElement]:
    """The person's elements not superseded by a newer submission, oldest first."""
    rows = _CURRENT_ELEMENTS.all(session, {"person_id": person.id})
    return [StoredElement(*row) for row in rows]


def read_element(vault: Vault, person: DataKeyHolder, element: ElementLike) -> str:
    """Decrypt one element; :class:`DataErased` once the person is shredded."""
    if element.person_id != person.id:
        raise BadRequest("The element does not belong to this person.")
    return vault.decrypt(
        person, element.ciphertext, table=ELEMENTS_TABLE, row_id=element.id, field=element.kind
    )


def read_identity(session: Session, vault: Vault, person: DataKeyHolder) -> dict[str, str]:
    """The person's current elements, decrypted, by kind (for export, PIPL Art. 45)."""
    if person.wrapped_dek is None:
        raise DataErased()
    return {e.kind: read_element(vault, person, e) for e in current_elements(session, person)}


def find_people_by_element(
    session: Session, vault: Vault, tenant_id: str, kind: str, value: str
) -> list[Person]:
    """Live (not erased) people of ``tenant_id`` whose current ``kind`` element is ``value``."""
    if kind not in BLIND_INDEX_KINDS:
        raise BadRequest("This kind of element cannot be looked up.", kind=kind)
    index = vault.blind_index(kind, canonical_value(kind, value))
    params = {"tenant_id": tenant_id, "kind": kind, "index": index}
    return list(session.scalars(_HOLDERS, params))


def holder_ids(session: Session, vault: Vault, tenant_id: str, kind: str, value: str) -> list[str]:
    """The ids of the people :func:`find_people_by_element` finds, without loading them."""
    if kind not in BLIND_INDEX_KINDS:
        raise BadRequest("This kind of element cannot be looked up.", kind=kind)
    index = vault.blind_index(kind, canonical_value(kind, value))
    params = {"tenant_id": tenant_id, "kind": kind, "index": index}
    return list(dict.fromkeys(_HOLDER_IDS.scalars(session, params)))


def find_person_by_id_number(
    session: Session, vault: Vault, tenant_id: str, id_number: str
) -> Person | None:
    """The (oldest) live person of ``tenant_id`` holding ``id_number``, by blind index."""
    people = find_people_by_element(session, vault, tenant_id, "id_number", id_number)
    return people[0] if people else None


# --- accounts -------------------------------------------------------------------------


def create_account(
    session: Session,
    vault: Vault,
    tenant_id: str,
    phone: str | None,
    *,
    person: Person | None = None,
    status: str = "active",
) -> Account:
    """An account whose login phone is encrypted under its holder's data key.

    Without ``person`` a new person is created for the holder: every ciphertext
    needs a data key, and the key belongs to the data subject so that erasing them
    erases their accounts' phones as well.
    """
    holder = person if person is not None else create_person(session, vault, tenant_id)
    if holder.tenant_id != tenant_id:
        raise BadRequest("The person belongs to another tenant.")
    account_id = new_id()
    canonical = canonical_value("phone", phone) if phone is not None else None
    account = Account(
        id=account_id,
        tenant_id=tenant_id,
        person_id=holder.id,
        phone_ciphertext=vault.encrypt(
            holder, canonical, table=ACCOUNTS_TABLE, row_id=account_id, field=ACCOUNT_PHONE_FIELD
        )
        if canonical is not None
        else None,
        phone_blind_index=vault.blind_index("phone", canonical) if canonical is not None else None,
        status=status,
        created_at=utcnow(),
    )
    session.add(account)
    session.flush()
    return account


_ACCOUNTS = table_of(Account)
#: Built once: every request about a user loads its account.
_ACCOUNT = Prepared(select(*_ACCOUNTS.c).where(_ACCOUNTS.c.id == bindparam("account_id")))
_ACCOUNT_CLASS = manager_of_class(Account)


def get_account(session: Session, account_id: str, *, tenant_id: str | None = None) -> Account:
    """The account, attached to ``session`` (changes to it are flushed as usual).

    Read as a row and made into the session's persistent object without the ORM's
    loading machinery, which cost a tenth of a verification's CPU; an account the
    session holds already is returned as it is.
    """
    account = session.identity_map.get(identity_key(Account, account_id))
    if account is None:
        row = _ACCOUNT.first(session, {"account_id": account_id})
        if row is not None:
            # As the ORM's loader builds an object: its values put in place, not set
            # one by one through the attribute events the constructor fires.
            account = _ACCOUNT_CLASS.new_instance()
            instance_state(account).dict.update(row._asdict())
            make_transient_to_detached(account)  # as if loaded: no pending changes
            session.add(account)
    if account is None or (tenant_id is not None and account.tenant_id != tenant_id):
        raise NotFound("No such account.", account_id=account_id)
    assert isinstance(account, Account)
    return account


def read_account_phone(session: Session, vault: Vault, account: Account) -> str:
    """Decrypt the account's login phone; :class:`DataErased` after erasure."""
    if account.phone_ciphertext is None or account.person_id is None:
        raise DataErased()
    holder = get_person(session, account.person_id)
    return vault.decrypt(
        holder,
        account.phone_ciphertext,
        table=ACCOUNTS_TABLE,
        row_id=account.id,
        field=ACCOUNT_PHONE_FIELD,
    )


def find_accounts_by_phone(
    session: Session, vault: Vault, tenant_id: str, phone: str
) -> list[Account]:
    """Accounts of ``tenant_id`` whose login phone is ``phone``, oldest first."""
    index = vault.blind_index("phone", canonical_value("phone", phone))
    return list(
        session.scalars(
            select(Account)
            .where(Account.tenant_id == tenant_id, Account.phone_blind_index == index)
            .order_by(Account.created_at, Account.id)
        )
    )


# --- erasure --------------------------------------------------------------------------


@dataclass(frozen=True)
class ErasureReport:
    person_id: str
    elements_deleted: int
    accounts_cleared: int
    audit_seq: int


def erase_person(
    session: Session, vault: Vault, person: Person, *, actor: str, reason: str = "request"
) -> ErasureReport:
    """Erase a person (PIPL Art. 47): shred the data key, delete rows, audit it.

    The element rows go, the accounts keep their ids and history (for the lender's
    record-keeping duties) but lose the phone ciphertext and its blind index, and
    every remaining ciphertext of the person is unreadable because the key is gone.
    ``reason`` is a short code (``request``, ``retention``), not free text.
    """
    shred(person, vault=vault)
    elements = cast(
        "CursorResult[Any]",
        session.execute(
            delete(IdentityElement)
            .where(IdentityElement.person_id == person.id)
            .execution_options(synchronize_session="fetch"),
        ),
    )
    accounts = cast(
        "CursorResult[Any]",
        session.execute(
            update(Account)
            .where(Account.person_id == person.id)
            .values(phone_ciphertext=None, phone_blind_index=None, status=ERASED_STATUS)
            .execution_options(synchronize_session="fetch"),
        ),
    )
    session.flush()
    session.expire(person, ["elements"])
    entry = audit.append(
        session,
        actor,
        "person.erased",
        f"person:{person.id}",
        {
            "reason": reason,
            "elements_deleted": elements.rowcount,
            "accounts_cleared": accounts.rowcount,
        },
    )
    return ErasureReport(
        person_id=person.id,
        elements_deleted=elements.rowcount,
        accounts_cleared=accounts.rowcount,
        audit_seq=entry.seq,
    )


__all__ = [
    "ErasureReport",
    "add_identity_element",
    "add_identity_elements",
    "canonical_value",
    "create_account",
    "create_person",
    "current_elements",
    "erase_person",
    "find_accounts_by_phone",
    "find_people_by_element",
    "find_person_by_id_number",
    "get_account",
    "get_person",
    "read_account_phone",
    "read_element",
    "read_identity",
]
