from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from realname.privacy.keys import Keyring
from realname.privacy.vault import DataErased, Vault
from realname.store.models import Account, AuditEntry, IdentityElement, Person
from realname.store.repositories import audit, people, tenants

pytestmark = pytest.mark.storage

ALICE = {"name": "张三", "id_number": "11010519491231002X", "phone": "13912345678"}
BOB = {"name": "李四", "id_number": "440524188001010014", "phone": "13987654321"}


def test_erase_person_shreds_deletes_and_audits(session_factory: sessionmaker[Session]) -> None:
    vault = Vault(Keyring.generate())
    with session_factory.begin() as session:
        tenant = tenants.create_tenant(session, "Erasure Lending")
        ids = {}
        for label, values in (("alice", ALICE), ("bob", BOB)):
            person = people.create_person(session, vault, tenant.id)
            for kind, value in values.items():
                people.add_identity_element(session, vault, person, kind, value)
            account = people.create_account(
                session, vault, tenant.id, values["phone"], person=person
            )
            ids[label] = (person.id, account.id)
        # A copy of Alice's ciphertext, as a backup would keep it.
        alice_id, alice_account_id = ids["alice"]
        backup = session.scalars(
            select(IdentityElement).where(
                IdentityElement.person_id == alice_id, IdentityElement.kind == "id_number"
            )
        ).one()
        backup_blob, backup_row = backup.ciphertext, backup.id

    with session_factory.begin() as session:
        alice = people.get_person(session, alice_id)
        people.read_identity(session, vault, alice)  # warms the vault's key cache
        report = people.erase_person(session, vault, alice, actor="operator:7")
        assert (report.elements_deleted, report.accounts_cleared) == (3, 1)

    with session_factory() as session:
        alice = people.get_person(session, alice_id)
        assert alice.wrapped_dek is None
        assert alice.kek_id is None
        assert alice.shredded_at is not None
        assert (
            session.scalars(
                select(IdentityElement).where(IdentityElement.person_id == alice_id)
            ).all()
            == []
        )
        with pytest.raises(DataErased):
            vault.decrypt(
                alice, backup_blob, table="identity_elements", row_id=backup_row, field="id_number"
            )
        with pytest.raises(DataErased):
            people.read_identity(session, vault, alice)
        account = session.get(Account, alice_account_id)
        assert account is not None
        assert account.status == "erased"
        assert account.phone_blind_index is None
        with pytest.raises(DataErased):
            people.read_account_phone(session, vault, account)
        assert (
            people.find_person_by_id_number(session, vault, tenant.id, ALICE["id_number"]) is None
        )
        assert people.find_accounts_by_phone(session, vault, tenant.id, ALICE["phone"]) == []

        # Bob is untouched.
        bob = people.get_person(session, ids["bob"][0])
        assert people.read_identity(session, vault, bob) == BOB
        assert people.find_person_by_id_number(session, vault, tenant.id, BOB["id_number"]) == bob

        (entry,) = session.scalars(select(AuditEntry)).all()
        assert (entry.action, entry.target, entry.actor) == (
            "person.erased",
            f"person:{alice_id}",
            "operator:7",
        )
        assert audit.verify_chain(session).ok


def test_erased_person_cannot_get_new_elements(session_factory: sessionmaker[Session]) -> None:
    vault = Vault(Keyring.generate())
    with session_factory.begin() as session:
        tenant = tenants.create_tenant(session, "T")
        person = people.create_person(session, vault, tenant.id)
        people.erase_person(session, vault, person, actor="test")
        with pytest.raises(DataErased):
            people.add_identity_element(session, vault, person, "name", "王五")
        assert session.get(Person, person.id) is person
