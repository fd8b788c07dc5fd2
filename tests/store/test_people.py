from __future__ import annotations

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from realname.errors import BadRequest
from realname.privacy.keys import Keyring
from realname.privacy.vault import DecryptionFailed, Vault
from realname.store.models import Account, IdentityElement
from realname.store.repositories import people, tenants

pytestmark = pytest.mark.storage

VAULT = Vault(Keyring.generate())


@pytest.mark.parametrize(
    ("kind", "raw", "canonical"),
    [
        ("id_number", " 110105 19491231 002x ", "11010519491231002X"),
        ("id_number", "１１０１０５１９４９１２３１００２Ｘ", "11010519491231002X"),
        ("phone", "+86 139-1234-5678", "13912345678"),
        ("phone", "0086 13912345678", "13912345678"),
        ("bank_card", "6222 0212 3456 7890 123", "6222021234567890123"),
        ("name", "  阿依古丽·买买提 ", "阿依古丽·买买提"),
    ],
)
def test_canonical_value(kind: str, raw: str, canonical: str) -> None:
    assert people.canonical_value(kind, raw) == canonical


def test_canonical_value_refuses_unknown_kinds_and_empty_values() -> None:
    with pytest.raises(BadRequest):
        people.canonical_value("passport", "E123")
    with pytest.raises(BadRequest):
        people.canonical_value("phone", " - ")


def test_elements_round_trip_and_supersede(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        tenant = tenants.create_tenant(session, "T")
        person = people.create_person(session, VAULT, tenant.id)
        people.add_identity_element(session, VAULT, person, "name", "王小明")
        people.add_identity_element(session, VAULT, person, "phone", "13900000001")
        people.add_identity_element(session, VAULT, person, "phone", "13900000002")
        person_id = person.id
    with session_factory() as session:
        person = people.get_person(session, person_id)
        assert people.read_identity(session, VAULT, person) == {
            "name": "王小明",
            "phone": "13900000002",
        }
        phones = session.scalars(
            select(IdentityElement).where(IdentityElement.kind == "phone")
        ).all()
        assert sorted(e.superseded_at is None for e in phones) == [False, True]
        name = session.scalars(select(IdentityElement).where(IdentityElement.kind == "name")).one()
        assert name.blind_index is None
        assert people.find_people_by_element(session, VAULT, tenant.id, "phone", "13900000002")
        assert not people.find_people_by_element(session, VAULT, tenant.id, "phone", "13900000001")
        with pytest.raises(BadRequest):
            people.find_people_by_element(session, VAULT, tenant.id, "name", "王小明")


def test_elements_stored_together_supersede_what_the_caller_read(
    session_factory: sessionmaker[Session],
) -> None:
    """With the current elements given, the kinds among them are superseded and the
    rest simply added: the same elements are current as without them."""
    with session_factory.begin() as session:
        tenant = tenants.create_tenant(session, "T")
        person = people.create_person(session, VAULT, tenant.id)
        first = {"name": "王小明", "phone": "13900000001"}
        current = people.current_elements(session, person)
        assert current == []
        people.add_identity_elements(session, VAULT, person, first, current=current)
        current = people.current_elements(session, person)
        second = {"phone": "13900000002", "id_number": "11010519491231002X"}
        people.add_identity_elements(session, VAULT, person, second, current=current)
        assert people.read_identity(session, VAULT, person) == {
            "name": "王小明",
            "phone": "13900000002",
            "id_number": "11010519491231002X",
        }
        stored = session.execute(
            select(IdentityElement.kind, IdentityElement.superseded_at.is_(None))
        ).all()
        assert sorted(stored) == [
            ("id_number", True),
            ("name", True),
            ("phone", False),
            ("phone", True),
        ]
        assert people.find_people_by_element(session, VAULT, tenant.id, "phone", "13900000002")
        assert not people.find_people_by_element(session, VAULT, tenant.id, "phone", "13900000001")


def test_find_by_id_number_ignores_formatting_and_other_tenants(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as session:
        ours = tenants.create_tenant(session, "Ours")
        theirs = tenants.create_tenant(session, "Theirs")
        person = people.create_person(session, VAULT, ours.id)
        people.add_identity_element(session, VAULT, person, "id_number", "11010519491231002X")
        other = people.create_person(session, VAULT, theirs.id)
        people.add_identity_element(session, VAULT, other, "id_number", "11010519491231002X")
    with session_factory() as session:
        found = people.find_person_by_id_number(session, VAULT, ours.id, "110105 19491231 002x")
        assert found is not None
        assert found.id == person.id
        found_theirs = people.find_person_by_id_number(
            session, VAULT, theirs.id, "11010519491231002X"
        )
        assert found_theirs is not None
        assert found_theirs.id == other.id
        assert (
            people.find_person_by_id_number(session, VAULT, ours.id, "110105194912310038") is None
        )


def test_accounts_by_phone(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        tenant = tenants.create_tenant(session, "T")
        first = people.create_account(session, VAULT, tenant.id, "13912345678")
        second = people.create_account(session, VAULT, tenant.id, "+86 139 1234 5678")
        people.create_account(session, VAULT, tenant.id, "13800000000")
        assert first.person_id is not None
        assert first.person_id != second.person_id
    with session_factory() as session:
        found = people.find_accounts_by_phone(session, VAULT, tenant.id, "139-1234-5678")
        assert [a.id for a in found] == [first.id, second.id]
        assert people.read_account_phone(session, VAULT, found[1]) == "13912345678"


def test_ciphertext_copied_to_another_row_fails(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        tenant = tenants.create_tenant(session, "T")
        person = people.create_person(session, VAULT, tenant.id)
        victim = people.add_identity_element(
            session, VAULT, person, "id_number", "11010519491231002X"
        )
        target = people.add_identity_element(
            session, VAULT, person, "bank_card", "6222021234567890123"
        )
        account = people.create_account(session, VAULT, tenant.id, "13912345678", person=person)
        victim_blob = victim.ciphertext
        target_id, account_id = target.id, account.id
    # An attacker with database access swaps ciphertexts between rows and columns.
    with engine.begin() as connection:
        connection.execute(
            update(IdentityElement)
            .where(IdentityElement.id == target_id)
            .values(ciphertext=victim_blob)
        )
        connection.execute(
            update(Account).where(Account.id == account_id).values(phone_ciphertext=victim_blob)
        )
    with session_factory() as session:
        person = people.get_person(session, person.id)
        target = session.get(IdentityElement, target_id)
        assert target is not None
        with pytest.raises(DecryptionFailed) as info:
            people.read_element(VAULT, person, target)
        assert info.value.code == "DECRYPTION_FAILED"
        account = people.get_account(session, account_id)
        with pytest.raises(DecryptionFailed):
            people.read_account_phone(session, VAULT, account)


def test_a_person_of_another_tenant_cannot_hold_the_account(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as session:
        a = tenants.create_tenant(session, "A")
        b = tenants.create_tenant(session, "B")
        person = people.create_person(session, VAULT, a.id)
        with pytest.raises(BadRequest):
            people.create_account(session, VAULT, b.id, "13912345678", person=person)
