"""``realname credentials``: the trust registry, ledger checkpoints, presentation checks."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy.orm import Session

from realname.config import get_settings
from realname.credentials import service
from realname.errors import RealnameError
from realname.store.types import utcnow

credentials_app = typer.Typer(
    help="Reusable verification: trust registry, ledger, presentations.", no_args_is_help=True
)
institution_app = typer.Typer(help="Institutions of the trust registry.", no_args_is_help=True)
credentials_app.add_typer(institution_app, name="institution")
console = Console()
err_console = Console(stderr=True)


@contextmanager
def _session() -> Iterator[tuple[Session, service.Institution]]:
    """A committed-on-success session and this institution (from the environment)."""
    from realname.privacy.keys import load_keyring
    from realname.privacy.vault import Vault
    from realname.store.db import make_engine, make_session_factory

    settings = get_settings()
    engine = make_engine(settings.resolved_database_url)
    me = service.institution_from_env(
        Vault(load_keyring(settings)),
        host=settings.host,
        port=settings.port,
        var_dir=settings.var_dir,
    )
    try:
        with make_session_factory(engine).begin() as session:
            yield session, me
    except RealnameError as exc:
        err_console.print(f"[red]{exc.diagnostics()}[/red]")
        raise typer.Exit(code=1) from None
    finally:
        engine.dispose()


def _key(value: str | None) -> bytes | None:
    if value is None:
        return None
    raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    if len(raw) != 32:
        raise typer.BadParameter("An Ed25519 public key is 32 bytes (base64url).")
    return raw


@institution_app.command("add")
def institution_add(
    did: Annotated[str, typer.Argument(help="did:web or did:key of the institution.")],
    name: Annotated[str, typer.Option(help="Display name.")],
    role: Annotated[list[str], typer.Option(help="issuer, verifier or witness (repeat).")],
    signing_key: Annotated[str | None, typer.Option(help="base64url Ed25519 (#k1).")] = None,
    ledger_key: Annotated[str | None, typer.Option(help="base64url Ed25519 (#ledger).")] = None,
    witness_key: Annotated[str | None, typer.Option(help="base64url Ed25519 (#witness).")] = None,
) -> None:
    """Register a partner institution with its roles and public keys."""
    with _session() as (session, _):
        service.register_institution(
            session,
            did,
            name,
            role,
            at=utcnow(),
            signing_key=_key(signing_key),
            ledger_key=_key(ledger_key),
            witness_key=_key(witness_key),
        )
    console.print(f"added {did}")


@institution_app.command("rotate")
def institution_rotate(
    did: Annotated[str, typer.Argument(help="The institution, or 'self' for this one.")],
    kid: Annotated[str | None, typer.Option(help="The new key's kid (not for 'self').")] = None,
    public_key: Annotated[str | None, typer.Option(help="base64url Ed25519.")] = None,
) -> None:
    """Open a new key now; keys of the same purpose close (old credentials still verify)."""
    with _session() as (session, me):
        if did == "self":
            kid = service.rotate_own_key(session, me, at=utcnow())
        else:
            raw = _key(public_key)
            if kid is None or raw is None:
                raise typer.BadParameter("--kid and --public-key are needed for a partner.")
            service.rotate_institution_key(session, did, kid, raw, at=utcnow())
    console.print(f"rotated in {kid}")


@institution_app.command("retire")
def institution_retire(
    did: Annotated[str, typer.Argument(help="The institution.")],
    kid: Annotated[str, typer.Option(help="The key to close.")],
) -> None:
    """Close a key now: it verifies only credentials issued before."""
    with _session() as (session, _):
        service.retire_institution_key(session, did, kid, at=utcnow())
    console.print(f"retired {kid}")


@institution_app.command("list")
def institution_list() -> None:
    """The registry, one line per key: did, name, roles, kid, valid from, valid until."""
    with _session() as (session, me):
        service.ensure_self(session, me, at=utcnow())
        lines = []
        for row, keys in service.list_institutions(session):
            roles = ",".join(row.roles) + (" (retired)" if row.retired_at else "")
            if not keys:
                lines.append("\t".join([row.did, row.name, roles]))
            for key in keys:
                until = key.valid_until.isoformat() if key.valid_until else "-"
                fields = [row.did, row.name, roles, key.kid, key.valid_from.isoformat(), until]
                lines.append("\t".join(fields))
    typer.echo("\n".join(lines))


@credentials_app.command("checkpoint")
def checkpoint() -> None:
    """Sign a ledger checkpoint now (if leaves were appended) and print the latest note."""
    with _session() as (session, me):
        service.checkpoint_now(session, me, at=utcnow())
        note = service.latest_note(session)
    typer.echo(note, nl=False)


@credentials_app.command("verify")
def verify(
    file: Annotated[Path, typer.Argument(help="A presentation (SD-JWT+KB), '-' for stdin.")],
    nonce: Annotated[str, typer.Option(help="The nonce the verifier sent.")],
    aud: Annotated[str, typer.Option(help="The verifier's audience (its DID).")],
) -> None:
    """Verify a presentation as this institution would; exit 1 with the VC_* code if not."""
    text = typer.get_text_stream("stdin").read() if str(file) == "-" else file.read_text()
    with _session() as (session, me):
        verified = service.verify(
            session, me, text.strip(), nonce=nonce, audience=aud, now=utcnow()
        )
        out = {
            "valid": True,
            "issuer": verified.issuer,
            "credential_hash": verified.credential_hash.hex(),
            "claims": verified.claims,
        }
    typer.echo(json.dumps(out, ensure_ascii=False, indent=2))
