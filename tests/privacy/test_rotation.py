from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from realname.errors import ConfigurationError
from realname.privacy.keys import Keyring
from realname.privacy.vault import Vault, rotate_master_key
from realname.store.models import AuditEntry, Person
from realname.store.repositories import audit, people, tenants

pytestmark = pytest.mark.storage

ID_NUMBERS = [f"11010519900307{i:03d}X" for i in range(23)]


def populate(
    session_factory: sessionmaker[Session], vault: Vault, count: int = 23
) -> tuple[str, dict[str, dict[str, str]]]:
    """People with every kind of element, and one account each; returns what was written."""
    written: dict[str, dict[str, str]] = {}
    with session_factory.begin() as session:
        tenant = tenants.create_tenant(session, "Rotation Lending")
        for i in range(count):
            person = people.create_person(session, vault, tenant.id)
            values = {
                "name": f"测试{i}",
                "id_number": ID_NUMBERS[i],
                "phone": f"139{i:08d}",
                "bank_card": f"62220212345678{i:05d}",
            }
            for kind, value in values.items():
                people.add_identity_element(session, vault, person, kind, value)
            people.create_account(session, vault, tenant.id, values["phone"], person=person)
            written[person.id] = values
        return tenant.id, written


def read_everything(
    session_factory: sessionmaker[Session], vault: Vault, tenant_id: str
) -> dict[str, dict[str, str]]:
    with session_factory() as session:
        result = {}
        for person in session.scalars(select(Person).where(Person.tenant_id == tenant_id)):
            values = people.read_identity(session, vault, person)
            (account,) = people.find_accounts_by_phone(session, vault, tenant_id, values["phone"])
            assert people.read_account_phone(session, vault, account) == values["phone"]
            found = people.find_person_by_id_number(session, vault, tenant_id, values["id_number"])
            assert found is not None
            assert found.id == person.id
            result[person.id] = values
        return result


def kek_counts(session_factory: sessionmaker[Session]) -> dict[str | None, int]:
    with session_factory() as session:
        rows = session.execute(select(Person.kek_id, func.count()).group_by(Person.kek_id))
        return {kek_id: n for kek_id, n in rows}


def test_rotation_rewraps_everyone_in_batches_and_old_kek_can_go(
    session_factory: sessionmaker[Session],
) -> None:
    old = Keyring.generate()
    old_vault = Vault(old)
    tenant_id, written = populate(session_factory, old_vault)
    with session_factory() as session:
        blobs_before = {p.id: p.wrapped_dek for p in session.scalars(select(Person))}

    new = old.rotate()
    report = rotate_master_key(session_factory, old_vault, new, batch_size=5)

    assert report.target_kek_id == "k2"
    assert (report.rewrapped, report.already_current, report.batches) == (23, 0, 5)
    assert report.complete
    assert kek_counts(session_factory) == {"k2": 23}
    with session_factory() as session:
        after = {p.id: p.wrapped_dek for p in session.scalars(select(Person))}
    assert all(after[pid] != blobs_before[pid] for pid in after)

    # Fields are untouched, blind indexes still match, and k1 is no longer needed.
    assert read_everything(session_factory, Vault(new.without("k1")), tenant_id) == written
    with session_factory() as session:
        entries = list(session.scalars(select(AuditEntry)))
        assert [e.action for e in entries] == ["keys.rotated"]
        assert entries[0].details["rewrapped"] == 23
        assert audit.verify_chain(session).ok


def test_rotation_is_idempotent(session_factory: sessionmaker[Session]) -> None:
    old = Keyring.generate()
    populate(session_factory, Vault(old), count=4)
    new = old.rotate()
    rotate_master_key(session_factory, old, new)
    again = rotate_master_key(session_factory, old, new)
    assert (again.rewrapped, again.already_current, again.batches) == (0, 4, 0)
    assert again.complete


class FailingFactory:
    """A session factory that breaks on its n-th use, like a crash mid-rotation."""

    def __init__(self, inner: sessionmaker[Session], fail_on: int) -> None:
        self.inner, self.fail_on, self.calls = inner, fail_on, 0

    def __call__(self, **kwargs: Any) -> Session:
        self.calls += 1
        if self.calls == self.fail_on:
            raise RuntimeError("simulated crash")
        return self.inner(**kwargs)


def test_interrupted_rotation_keeps_readers_working_and_resumes(
    session_factory: sessionmaker[Session],
) -> None:
    old = Keyring.generate()
    tenant_id, written = populate(session_factory, Vault(old), count=12)
    new = old.rotate()

    # Call 1 counts, calls 2-3 are two batches of 4; call 4 (the third batch) crashes.
    crashing: Callable[..., Session] = FailingFactory(session_factory, fail_on=4)
    with pytest.raises(RuntimeError, match="simulated crash"):
        rotate_master_key(crashing, old, new, batch_size=4)  # type: ignore[arg-type]
    assert kek_counts(session_factory) == {"k1": 4, "k2": 8}

    # Mid-rotation, a process holding both KEKs reads everyone.
    assert read_everything(session_factory, Vault(new), tenant_id) == written

    report = rotate_master_key(session_factory, old, new, batch_size=4)
    assert (report.rewrapped, report.already_current) == (4, 8)
    assert report.complete
    assert read_everything(session_factory, Vault(new.without("k1")), tenant_id) == written


def test_rotation_skips_shredded_people_and_reports_unreadable_wraps(
    session_factory: sessionmaker[Session],
) -> None:
    old = Keyring.generate()
    vault = Vault(old)
    populate(session_factory, vault, count=3)
    with session_factory.begin() as session:
        victim, broken, _ = session.scalars(select(Person).order_by(Person.id)).all()
        people.erase_person(session, vault, victim, actor="test")
        broken.wrapped_dek = bytes(len(broken.wrapped_dek or b""))  # corrupted wrap
        broken_id, victim_id = broken.id, victim.id

    report = rotate_master_key(session_factory, old, old.rotate())
    assert report.rewrapped == 1
    assert report.failed == (broken_id,)
    assert report.remaining == 1
    assert not report.complete
    with session_factory() as session:
        shredded = session.get(Person, victim_id)
        assert shredded is not None
        assert shredded.wrapped_dek is None
        assert shredded.kek_id is None


def test_rotation_refuses_a_different_index_key(session_factory: sessionmaker[Session]) -> None:
    with pytest.raises(ConfigurationError):
        rotate_master_key(session_factory, Keyring.generate(), Keyring.generate())
