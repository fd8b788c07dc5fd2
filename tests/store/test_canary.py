"""Canary: personal data written through the repositories never lands in plaintext.

Distinctive values go in through the normal code paths; then the raw bytes of the
SQLite database, its WAL and its shared-memory file, and every log record (with
SQLAlchemy echoing each statement and its parameters), are searched for them.
A control value written to a plain column proves that the search does find text.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from realname.privacy.keys import Keyring
from realname.privacy.vault import Vault
from realname.store.db import make_engine, make_session_factory, upgrade
from realname.store.repositories import audit, checks, consents, people, tenants

pytestmark = pytest.mark.storage

CANARY_NAME = "金丝雀测试"
CANARY_ID = "11010519491231002X"
CANARY_PHONE = "13912345678"
CANARY_CARD = "6222021234567890123"
CONTROL = "金丝雀对照组"  # stored in a plain column on purpose (tenant name)


def forms(value: str) -> set[bytes]:
    """The encodings a leak could take: UTF-8, UTF-16, GB 18030, spaced and lower-case."""
    variants = {value, value.lower(), " ".join(value[i : i + 4] for i in range(0, len(value), 4))}
    encoded = set()
    for variant in variants:
        for codec in ("utf-8", "utf-16-le", "utf-16-be", "gb18030"):
            encoded.add(variant.encode(codec))
    return encoded


CANARIES = {
    "name": forms(CANARY_NAME),
    "id_number": forms(CANARY_ID) | forms(CANARY_ID[:-1]),  # also the digits without X
    "phone": forms(CANARY_PHONE),
    "bank_card": forms(CANARY_CARD),
}


def files_of(db: Path) -> dict[str, bytes]:
    found = {}
    for suffix in ("", "-wal", "-shm", "-journal"):
        path = Path(f"{db}{suffix}")
        if path.exists():
            found[path.name] = path.read_bytes()
    return found


def leaks(blobs: dict[str, bytes]) -> list[tuple[str, str]]:
    return [
        (name, kind)
        for name, blob in blobs.items()
        for kind, variants in CANARIES.items()
        if any(variant in blob for variant in variants)
    ]


def test_no_canary_at_rest_or_in_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    db = tmp_path / "canary.db"
    url = f"sqlite:///{db}"
    upgrade(url)
    engine = make_engine(url, echo=True)
    factory = make_session_factory(engine)
    vault = Vault(Keyring.generate())

    with factory.begin() as session:
        tenant = tenants.create_tenant(session, CONTROL)
        account = people.create_account(session, vault, tenant.id, CANARY_PHONE)
        person = people.get_person(session, account.person_id or "")
        for kind, value in (
            ("name", CANARY_NAME),
            ("id_number", CANARY_ID),
            ("phone", CANARY_PHONE),
            ("bank_card", CANARY_CARD),
        ):
            people.add_identity_element(session, vault, person, kind, value)
        consents.grant_consent(session, kind="id", purpose="实名认证", person_id=person.id)
        checks.record_check(
            session,
            tenant_id=tenant.id,
            account_id=account.id,
            check_kind="id_two_element",
            provider="sandbox",
            outcome="consistent",
            cost_fen=30,
        )
        audit.append(session, "system", "person.created", f"person:{person.id}")
        person_id, tenant_id = person.id, tenant.id

    # Read everything back (decryption paths log too), then look at the files while
    # the WAL still holds the fresh pages.
    with factory() as session:
        person = people.get_person(session, person_id)
        assert people.read_identity(session, vault, person)["name"] == CANARY_NAME
        assert people.find_person_by_id_number(session, vault, tenant_id, CANARY_ID) == person
        assert people.find_accounts_by_phone(session, vault, tenant_id, CANARY_PHONE)
    live = files_of(db)
    assert f"{db.name}-wal" in live  # WAL mode really on: the test reads the WAL
    engine.dispose()
    closed = files_of(db)

    for snapshot in (live, closed):
        assert leaks(snapshot) == []
        assert any(CONTROL.encode() in blob for blob in snapshot.values())

    sql_records = [r for r in caplog.records if r.name.startswith("sqlalchemy.engine")]
    assert any("INSERT INTO identity_elements" in r.getMessage() for r in sql_records)
    log_text = "\n".join(r.getMessage() for r in caplog.records) + capsys.readouterr().out
    assert CONTROL in log_text  # the control value is visible, so the check can fail
    assert leaks({"logs": log_text.encode("utf-8")}) == []
