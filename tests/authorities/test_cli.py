"""``realname sandbox``: load and generate through the Typer sub-app."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from realname.authorities.sandbox import SandboxStore
from realname.authorities.sandbox.cli import default_db_path, sandbox_app

PUBLIC = Path(__file__).parent / "data" / "public.yaml"


@pytest.fixture
def cli() -> typer.Typer:
    # Mounted the way the main CLI mounts it.
    app = typer.Typer()
    app.add_typer(sandbox_app, name="sandbox")
    return app


def test_load(cli: typer.Typer, tmp_path: Path) -> None:
    db = tmp_path / "sandbox.db"
    result = CliRunner().invoke(cli, ["sandbox", "load", str(PUBLIC), "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "loaded 28 scenario(s)" in result.output
    with SandboxStore(db) as store:
        assert len(store.worlds()) == 28


def test_load_refuses_a_malformed_file(cli: typer.Typer, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        PUBLIC.read_text(encoding="utf-8").replace("owner: h,", "owner: zz,", 1), encoding="utf-8"
    )
    db = tmp_path / "sandbox.db"
    result = CliRunner().invoke(cli, ["sandbox", "load", str(bad), "--db", str(db)])
    assert result.exit_code == 2
    assert "FIXTURE_INVALID" in result.output
    assert "phone-of-a-parent" in result.output
    assert "registry.phones[0].owner" in result.output
    assert not db.exists()


def test_generate_and_list(cli: typer.Typer, tmp_path: Path) -> None:
    db = tmp_path / "sandbox.db"
    result = CliRunner().invoke(
        cli,
        [
            "sandbox",
            "generate",
            "--citizens",
            "1500",
            "--seed",
            "5",
            "--db",
            str(db),
            "--today",
            "2026-12-01",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "1500 citizens" in result.output
    listing = CliRunner().invoke(cli, ["sandbox", "worlds", "--db", str(db)])
    assert "generated" in listing.output
    assert "1500" in listing.output


def test_the_default_database_lives_under_var_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from realname.config import get_settings

    monkeypatch.setenv("REALNAME_VAR_DIR", str(tmp_path / "v"))
    get_settings.cache_clear()
    try:
        assert default_db_path() == tmp_path / "v" / "sandbox.db"
    finally:
        get_settings.cache_clear()
