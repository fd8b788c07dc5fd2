"""The operator's command line: version, migrations, tenants, master-key rotation."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from realname import __version__
from realname.cli import app
from realname.config import get_settings
from realname.privacy.keys import load_keyring
from realname.privacy.vault import Vault
from realname.store.db import make_engine, make_session_factory
from realname.store.repositories.people import add_identity_element, create_person, read_identity
from realname.store.repositories.tenants import authenticate_api_key, create_tenant

runner = CliRunner()


@pytest.fixture
def var_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("REALNAME_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("REALNAME_DATABASE_URL", raising=False)
    monkeypatch.delenv("REALNAME_MASTER_KEY", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.stdout


def test_db_upgrade_creates_the_schema(var_dir: Path) -> None:
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "revision" in result.stdout
    assert (var_dir / "realname.db").exists()


def test_tenants_create_prints_a_working_key_once(var_dir: Path) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    result = runner.invoke(app, ["tenants", "create", "Demo lender", "-s", "identity:validate"])
    assert result.exit_code == 0, result.output
    match = re.search(r"rn_[A-Za-z0-9_]+", result.stdout)
    assert match
    engine = make_engine(get_settings().resolved_database_url)
    try:
        with make_session_factory(engine)() as session:
            principal = authenticate_api_key(session, match.group(0))
    finally:
        engine.dispose()
    assert principal is not None
    assert list(principal.scopes) == ["identity:validate"]


def test_keys_rotate_rewraps_data_keys_and_keeps_data_readable(var_dir: Path) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    settings = get_settings()
    vault = Vault(load_keyring(settings))
    engine = make_engine(settings.resolved_database_url)
    try:
        with make_session_factory(engine)() as session:
            tenant = create_tenant(session, "t")
            person = create_person(session, vault, tenant_id=tenant.id)
            add_identity_element(session, vault, person, "name", "王小明")
            session.commit()
            person_id = person.id
        before = json.loads(settings.resolved_keyring_file.read_text())

        result = runner.invoke(app, ["keys", "rotate", "--batch-size", "1"])
        assert result.exit_code == 0, result.output

        after = json.loads(settings.resolved_keyring_file.read_text())
        assert after != before
        rotated = Vault(load_keyring(settings))
        assert rotated.keyring.current != vault.keyring.current
        with make_session_factory(engine)() as session:
            from realname.store.models import Person

            stored = session.get(Person, person_id)
            assert stored is not None
            assert stored.kek_id == rotated.keyring.current
            assert read_identity(session, rotated, stored)["name"] == "王小明"
    finally:
        engine.dispose()


def test_keys_retire_refuses_current_and_removes_an_unused_old_key(var_dir: Path) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    settings = get_settings()
    vault = Vault(load_keyring(settings))
    old_id = vault.keyring.current
    engine = make_engine(settings.resolved_database_url)
    try:
        with make_session_factory(engine)() as session:
            tenant = create_tenant(session, "t")
            person = create_person(session, vault, tenant_id=tenant.id)
            add_identity_element(session, vault, person, "phone", "13912345678")
            session.commit()
    finally:
        engine.dispose()

    assert runner.invoke(app, ["keys", "retire", old_id]).exit_code == 2
    assert runner.invoke(app, ["keys", "rotate"]).exit_code == 0
    status = runner.invoke(app, ["keys", "status"])
    assert status.exit_code == 0
    assert old_id in status.stdout
    retired = runner.invoke(app, ["keys", "retire", old_id])
    assert retired.exit_code == 0, retired.output
    assert old_id not in load_keyring(settings).kek_ids


def test_running_vault_picks_up_a_rotated_keyring(var_dir: Path) -> None:
    settings = get_settings()
    running = Vault(load_keyring(settings), reload=lambda: load_keyring(settings))
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(app, ["keys", "rotate"]).exit_code == 0
    rotated = Vault(load_keyring(settings))
    # A data key wrapped by an up-to-date process unwraps in the process that has
    # not reloaded yet: it reloads on meeting the unknown master key.
    wrapped = rotated.new_data_key("person-1")
    assert running.unwrap(wrapped) == rotated.unwrap(wrapped)
    assert running.keyring.current == rotated.keyring.current


DATA = Path(__file__).resolve().parent / "data" / "scenarios"


def test_diagnose_prints_json_and_exits_zero_when_all_pass(var_dir: Path) -> None:
    result = runner.invoke(app, ["diagnose", str(DATA / "causes.yaml"), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["failed"] == 0
    assert payload["passed"] == len(payload["scenarios"]) > 10
    first = payload["scenarios"][0]
    assert set(first) >= {"id", "passed", "expected", "got"}
    assert set(first["got"]) == {"level", "causes"}


def test_diagnose_exits_non_zero_when_an_expectation_is_not_met(
    var_dir: Path, tmp_path: Path
) -> None:
    text = (DATA / "causes.yaml").read_text(encoding="utf-8")
    wrong = text.replace("expect: {level: L0, causes: [NAME_INVALID]}", "expect: {level: L2}", 1)
    fixture = tmp_path / "wrong.yaml"
    fixture.write_text(wrong, encoding="utf-8")
    result = runner.invoke(app, ["diagnose", str(fixture)])
    assert result.exit_code == 1
    assert "FAIL" in result.stdout


def test_diagnose_rejects_a_malformed_fixture_naming_the_field(
    var_dir: Path, tmp_path: Path
) -> None:
    fixture = tmp_path / "bad.yaml"
    fixture.write_text(
        "scenarios:\n  - id: x\n    submit: {name: 王明, colour: red}\n"
        "    product_level: L2\n    expect: {level: L0}\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["diagnose", str(fixture)])
    assert result.exit_code == 2
    assert "colour" in result.output


def test_status_explains_a_user_and_jobs_rerun_runs(var_dir: Path) -> None:
    from realname.store.repositories.checks import CauseRecord, record_result
    from realname.store.repositories.people import create_account

    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    settings = get_settings()
    vault = Vault(load_keyring(settings))
    engine = make_engine(settings.resolved_database_url)
    try:
        with make_session_factory(engine)() as session:
            tenant = create_tenant(session, "t")
            account = create_account(session, vault, tenant.id, "13912345678")
            record_result(
                session,
                account_id=account.id,
                level_reached="L1",
                level_needed="L2",
                causes=[CauseRecord("PHONE_OWNED_BY_OTHER", "blocking", {})],
            )
            session.commit()
            user = account.id
    finally:
        engine.dispose()
    shown = runner.invoke(app, ["status", user, "--lang", "en", "--json"])
    assert shown.exit_code == 0, shown.output
    view = json.loads(shown.stdout)
    assert (view["level"], view["needed"], view["verified"]) == ("L1", "L2", False)
    assert view["causes"][0]["remedies"][0]["id"] == "use_bank_card"
    assert "13912345678" not in shown.stdout
    assert runner.invoke(app, ["status", "nobody"]).exit_code == 1

    rerun = runner.invoke(app, ["jobs", "rerun-unavailable"])
    assert rerun.exit_code == 0, rerun.output
    assert "0 pending" in rerun.stdout


def test_jobs_webhooks_dispatches_once(var_dir: Path) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    result = runner.invoke(app, ["jobs", "webhooks"])
    assert result.exit_code == 0, result.output
    assert "DispatchReport" in result.stdout


def test_sandbox_people_lists_citizens_to_try(var_dir: Path) -> None:
    from realname.identity import id_number

    db = var_dir / "sb.db"
    generated = runner.invoke(
        app, ["sandbox", "generate", "--citizens", "50", "--seed", "3", "--db", str(db)]
    )
    assert generated.exit_code == 0, generated.output
    listed = runner.invoke(app, ["sandbox", "people", "-n", "3", "--db", str(db)])
    assert listed.exit_code == 0, listed.output
    numbers = re.findall(r"\b\d{17}[\dX]\b", listed.stdout)
    assert numbers
    assert all(id_number.is_valid(n) for n in numbers)


def test_export_writes_the_users_copy_to_a_private_file_not_the_terminal(
    var_dir: Path, tmp_path: Path
) -> None:
    from realname.store.repositories.people import create_account

    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    settings = get_settings()
    vault = Vault(load_keyring(settings))
    engine = make_engine(settings.resolved_database_url)
    try:
        with make_session_factory(engine)() as session:
            account = create_account(session, vault, create_tenant(session, "t").id, "13912345678")
            session.commit()
            user = account.id
    finally:
        engine.dispose()
    out = tmp_path / "copy.json"
    result = runner.invoke(app, ["export", user, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "13912345678" not in result.stdout
    assert out.stat().st_mode & 0o777 == 0o600
    copy = json.loads(out.read_text(encoding="utf-8"))
    assert copy["accounts"][0]["phone"] == "13912345678"
    assert runner.invoke(app, ["export", "nobody", "--out", str(out)]).exit_code == 1
