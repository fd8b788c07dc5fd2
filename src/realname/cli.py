"""The ``realname`` command line (Typer + Rich).

Sub-command groups mirror the package: ``db`` for the store, ``keys`` for the
vault's keyring, ``tenants`` for API access. Every command reads the same settings
as the service (``REALNAME_*`` environment variables), so an operator's shell and
the running service agree on the database and keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from realname import __version__
from realname.authorities.sandbox.cli import sandbox_app
from realname.config import get_settings
from realname.credentials.cli import credentials_app
from realname.credit.cli import credit_app
from realname.finance.cli import finance_app
from realname.ops.cli import ops_app
from realname.ops.metrics_cli import metrics_command
from realname.risk.cli import risk_app

app = typer.Typer(
    name="realname",
    help="Real-name verification (实名认证) that says why not — and fixes what it can.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
keys_app = typer.Typer(help="The vault's master keys.", no_args_is_help=True)
tenants_app = typer.Typer(help="Tenants and their API keys.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(tenants_app, name="tenants")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(credit_app, name="credit")
app.add_typer(risk_app, name="risk")
app.add_typer(finance_app, name="finance")
app.add_typer(credentials_app, name="credentials")
app.add_typer(ops_app, name="ops")
ops_app.command("metrics")(metrics_command)
jobs_app = typer.Typer(help="Background jobs, run once.", no_args_is_help=True)
app.add_typer(jobs_app, name="jobs")

console = Console()
err_console = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        console.print(f"realname {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """realname: verify identity, diagnose why it fails, repair what can be repaired."""


#: How long uvicorn's supervisor waits for a worker's answer to its health ping
#: before it kills and replaces the worker. A new worker answers only once it has
#: imported the command line and the app, which on a busy machine takes longer than
#: uvicorn's default of 5 s: workers were killed while still starting.
WORKER_HEALTHCHECK_SECONDS = 30


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port.")] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=256,
            help="API processes sharing the port (default REALNAME_WORKERS, 1).",
        ),
    ] = None,
    migrate: Annotated[
        bool, typer.Option(help="Bring the database to the latest migration first.")
    ] = True,
) -> None:
    """Run the HTTP API (and, as they land, the borrower pages and ops console).

    With ``--workers N`` above 1, uvicorn runs N worker processes on one port (each on
    a socket of its own, :mod:`realname.api.serving`), each
    building the app from the environment; migrations, the development keyring and
    the sandbox world are made once, here, before they start.
    """
    import os

    import uvicorn

    from realname.api.app import create_app
    from realname.logs import configure_logging
    from realname.store.db import upgrade

    settings = get_settings()
    if workers is not None and workers != settings.workers:
        settings = settings.model_copy(update={"workers": workers})
    configure_logging(settings.log_level)
    if migrate:
        upgrade(settings.resolved_database_url)
    host, port = host or settings.host, port or settings.port
    if settings.workers == 1:
        uvicorn.run(create_app(settings), host=host, port=port, log_config=None, proxy_headers=True)
        return
    from realname.api.context import prepare_shared_state

    prepare_shared_state(settings)
    # The workers read their settings from the environment: tell them how many they
    # are, so that each takes its share of the provider quotas.
    os.environ["REALNAME_WORKERS"] = str(settings.workers)
    from realname.api.serving import run_workers

    # Each worker listens on a socket of its own, so connections spread over them.
    run_workers(
        uvicorn.Config(
            "realname.api.app:create_app_from_env",
            factory=True,
            workers=settings.workers,
            timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
            host=host,
            port=port,
            log_config=None,
            proxy_headers=True,
        )
    )


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
) -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    from realname.store.db import current_revision, make_engine, upgrade

    settings = get_settings()
    upgrade(settings.resolved_database_url, revision)
    engine = make_engine(settings.resolved_database_url)
    try:
        console.print(f"database at revision [bold]{current_revision(engine)}[/bold]")
    finally:
        engine.dispose()


@keys_app.command("rotate")
def keys_rotate(
    batch_size: Annotated[
        int, typer.Option(min=1, help="People re-wrapped per transaction.")
    ] = 500,
) -> None:
    """Add a new master key and re-wrap every person's data key under it, online.

    The new keyring (old keys kept) is saved before any data key is re-wrapped, so a
    crash at any point leaves every row readable; running the command again resumes.
    """
    from realname.privacy.keys import load_keyring, save_keyring
    from realname.privacy.vault import rotate_master_key
    from realname.store.db import make_engine, make_session_factory

    settings = get_settings()
    if settings.master_key is not None:
        err_console.print(
            "[red]The keyring comes from REALNAME_MASTER_KEY; rotation writes a keyring "
            "file. Move the key into REALNAME_KEYRING_FILE first.[/red]"
        )
        raise typer.Exit(code=2)
    old = load_keyring(settings)
    new = old.rotate()
    save_keyring(new, settings.resolved_keyring_file)
    engine = make_engine(settings.resolved_database_url)
    try:
        report = rotate_master_key(make_session_factory(engine), old, new, batch_size=batch_size)
    finally:
        engine.dispose()
    console.print(f"current master key is now [bold]{new.current}[/bold]")
    console.print(report)


@keys_app.command("status")
def keys_status() -> None:
    """List the master keys (ids only, never key material) and how many data keys each wraps."""
    from realname.privacy.keys import load_keyring
    from realname.privacy.vault import count_wraps_by_kek
    from realname.store.db import make_engine, make_session_factory

    settings = get_settings()
    keyring = load_keyring(settings)
    engine = make_engine(settings.resolved_database_url)
    try:
        with make_session_factory(engine)() as session:
            counts = count_wraps_by_kek(session)
    finally:
        engine.dispose()
    table = Table("master key", "current", "data keys wrapped")
    for kek_id in keyring.kek_ids:
        current = "yes" if kek_id == keyring.current else ""
        table.add_row(kek_id, current, str(counts.get(kek_id, 0)))
    console.print(table)


@keys_app.command("retire")
def keys_retire(
    kek_id: Annotated[str, typer.Argument(help="The old master key to remove from the keyring.")],
) -> None:
    """Remove an old master key once no data key is wrapped under it.

    Re-wraps stragglers first (data keys that processes created under the old key
    before they reloaded the keyring), and refuses while any remain.
    """
    from realname.privacy.keys import load_keyring, save_keyring
    from realname.privacy.vault import count_wraps_by_kek, rotate_master_key
    from realname.store.db import make_engine, make_session_factory

    settings = get_settings()
    keyring = load_keyring(settings)
    if kek_id not in keyring.kek_ids:
        err_console.print(f"[red]No master key {kek_id!r} in the keyring.[/red]")
        raise typer.Exit(code=2)
    if kek_id == keyring.current:
        err_console.print("[red]The current master key cannot be retired; rotate first.[/red]")
        raise typer.Exit(code=2)
    engine = make_engine(settings.resolved_database_url)
    try:
        factory = make_session_factory(engine)
        rotate_master_key(factory, keyring, keyring)
        with factory() as session:
            left = count_wraps_by_kek(session).get(kek_id, 0)
    finally:
        engine.dispose()
    if left:
        err_console.print(f"[red]{left} data keys still use {kek_id}; not retired.[/red]")
        raise typer.Exit(code=1)
    save_keyring(keyring.without(kek_id), settings.resolved_keyring_file)
    console.print(f"master key [bold]{kek_id}[/bold] retired")


@app.command()
def diagnose(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Fixture YAML.")],
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    today: Annotated[
        str | None, typer.Option(help="The date of the run (ISO), unless the file sets one.")
    ] = None,
) -> None:
    """Run every scenario of FILE through the engine and the in-process sandbox.

    Prints a table (scenario, expected, got), or with --json one object; exits
    non-zero if any scenario differs from its expectation.
    """
    import json
    from datetime import date

    from realname.authorities.errors import FixtureError
    from realname.verification.scenarios import ScenarioRunner

    try:
        run_day = date.fromisoformat(today) if today else None
    except ValueError:
        err_console.print("[red]--today must be an ISO date (YYYY-MM-DD).[/red]")
        raise typer.Exit(code=2) from None
    try:
        with ScenarioRunner(face=_face_support()) as runner:
            results = runner.run_file(file, today=run_day)
    except FixtureError as error:
        err_console.print(f"[red]{error.message}[/red]")
        raise typer.Exit(code=2) from None
    failed = [r for r in results if not r.passed]
    if json_output:
        payload = {
            "scenarios": [r.as_json() for r in results],
            "passed": len(results) - len(failed),
            "failed": len(failed),
        }
        typer.echo(json.dumps(payload, ensure_ascii=False))
    else:
        table = Table("scenario", "expected", "got", "cost (fen)", "")
        for column in table.columns[:3]:
            column.overflow = "fold"
        for r in results:
            got = r.error or f"{r.got_level} {', '.join(r.got_causes) or '-'}"
            table.add_row(
                r.id,
                f"{r.expected_level} {', '.join(r.expected_causes) or '-'}",
                got,
                str(r.cost_fen),
                "[green]pass[/green]" if r.passed else "[red]FAIL[/red]",
            )
        console.print(table)
        console.print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    if failed:
        raise typer.Exit(code=1)


def _face_support() -> FaceSupport:
    """The local face engine (dlib's models, shipped in a package) for face scenarios."""
    from realname.authorities.face import LocalFaceEngine, face_capture
    from realname.verification.scenarios import FaceSupport

    return FaceSupport(engine=LocalFaceEngine(), capture=face_capture)


@app.command()
def status(
    user: Annotated[str, typer.Argument(help="The user (account) id.")],
    lang: Annotated[str, typer.Option(help="zh-CN or en.")] = "zh-CN",
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Why USER is (not) verified: level reached and needed, causes and remedies, masked."""
    import json

    from realname.errors import RealnameError
    from realname.store.db import make_engine, make_session_factory
    from realname.store.models import Account
    from realname.verification.users import status as user_status

    if lang not in ("zh-CN", "en"):
        err_console.print("[red]--lang must be zh-CN or en.[/red]")
        raise typer.Exit(code=2)
    settings = get_settings()
    engine = make_engine(settings.resolved_database_url)
    try:
        with make_session_factory(engine)() as session:
            account = session.get(Account, user)
            if account is None:
                err_console.print("[red]No such user.[/red]")
                raise typer.Exit(code=1)
            try:
                view = user_status(session, account, lang)  # type: ignore[arg-type]
            except RealnameError as error:
                err_console.print(f"[red]{error.message}[/red]")
                raise typer.Exit(code=1) from None
    finally:
        engine.dispose()
    if json_output:
        typer.echo(json.dumps(view.__dict__, ensure_ascii=False, default=str))
        return
    console.print(
        f"[bold]{view.user_id}[/bold]  level {view.level} / needed {view.needed}  "
        f"({'verified' if view.verified else 'not verified'}, account {view.account_status})"
    )
    table = Table("code", "severity", "message", "remedies")
    for cause in view.causes:
        table.add_row(
            cause["code"],
            cause["severity"],
            cause["message"],
            "; ".join(remedy["label"] for remedy in cause["remedies"]),
        )
    console.print(table)


@app.command("export")
def export_user_data(
    user: Annotated[str, typer.Argument(help="The user (account) id.")],
    out: Annotated[
        Path, typer.Option("--out", help="File to write the JSON copy to (created 0600).")
    ],
) -> None:
    """Write USER's own data, unmasked, to a file for them (PIPL Art. 45); audited.

    The copy goes to a file only the operator's account can read, never to the
    terminal, so it does not end up in scrollback or shell logs.
    """
    import json
    import os
    from datetime import UTC, datetime

    from realname.api.context import AppContext
    from realname.errors import RealnameError
    from realname.privacy.export import export_user
    from realname.store.models import Account

    context = AppContext.from_settings(get_settings())
    try:
        with context.session_factory() as session:
            account = session.get(Account, user)
            if account is None:
                err_console.print("[red]No such user.[/red]")
                raise typer.Exit(code=1)
            try:
                copy = export_user(
                    session, context.vault, account, actor="cli", now=datetime.now(UTC)
                )
            except RealnameError as error:
                err_console.print(f"[red]{error.code}: {error.message}[/red]")
                raise typer.Exit(code=1) from None
            descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                json.dump(copy.document, handle, ensure_ascii=False, indent=2)
            session.commit()
    finally:
        context.engine.dispose()
    console.print(f"Wrote the copy of {user}'s data to {out} (audited).")


@jobs_app.command("rerun-unavailable")
def jobs_rerun_unavailable(
    limit: Annotated[int, typer.Option(min=1, help="Accounts to re-run at most.")] = 100,
) -> None:
    """Verify again the accounts an authority's outage left at PROVIDER_UNAVAILABLE.

    Holds the same lease as the API processes' re-run loop while it runs, so that it
    never re-runs a result one of them is re-running.
    """
    import asyncio

    from realname.api.context import AppContext
    from realname.jobs.lease import Lease
    from realname.jobs.rerun import RERUN_JOB, rerun_lease_ttl, rerun_unavailable

    context = AppContext.from_settings(get_settings())
    lease = Lease(context.session_factory, RERUN_JOB, rerun_lease_ttl(0), context.lease_holder)
    try:
        if not lease.hold():
            console.print("an API process is re-running these now; nothing to do here")
            return
        try:
            report = asyncio.run(
                rerun_unavailable(
                    context.session_factory,
                    context.vault,
                    context.provider,
                    context.policies,
                    limit=limit,
                    keep=lease.held,
                )
            )
        finally:
            lease.let_go()
    finally:
        context.engine.dispose()
    console.print(
        f"{report.candidates} pending, {report.completed} completed, "
        f"{report.still_unavailable} still waiting for an authority"
    )


@jobs_app.command("webhooks")
def jobs_webhooks(
    forever: Annotated[
        bool, typer.Option("--forever", help="Keep dispatching until interrupted.")
    ] = False,
) -> None:
    """Send the webhook deliveries that are due (once, or continuously with --forever).

    The API process dispatches by itself; this is for workers on other hosts.
    """
    from realname.webhooks.dispatcher import run

    report = run(get_settings(), once=not forever)
    if report is not None:
        console.print(report)


@jobs_app.command("purge-face-frames")
def jobs_purge_face_frames() -> None:
    """Delete face-session frames whose retention period has ended.

    Frames are kept only when REALNAME_FACE_FRAME_RETENTION_DAYS is above 0 (each
    upload also purges what is due); run this daily from one worker to be sure.
    """
    from datetime import UTC, datetime

    from realname.store.db import make_engine, make_session_factory
    from realname.verification.face_sessions import purge_frames

    engine = make_engine(get_settings().resolved_database_url)
    try:
        with make_session_factory(engine)() as session, session.begin():
            purged = purge_frames(session, datetime.now(UTC))
    finally:
        engine.dispose()
    console.print(f"{purged} face sessions' frames deleted")


@tenants_app.command("create")
def tenants_create(
    name: Annotated[str, typer.Argument(help="The tenant's display name.")],
    scope: Annotated[
        list[str] | None,
        typer.Option("--scope", "-s", help="A scope for the first API key (repeatable)."),
    ] = None,
) -> None:
    """Create a tenant and its first API key. The key is shown once; store it now."""
    from realname.store.db import make_engine, make_session_factory
    from realname.store.repositories.tenants import create_tenant, issue_api_key

    settings = get_settings()
    engine = make_engine(settings.resolved_database_url)
    try:
        with make_session_factory(engine)() as session:
            tenant = create_tenant(session, name)
            _, plaintext = issue_api_key(session, tenant.id, scope or ["*"])
            session.commit()
            tenant_id = tenant.id
    finally:
        engine.dispose()
    table = Table(show_header=False)
    table.add_row("tenant id", str(tenant_id))
    table.add_row("scopes", ", ".join(scope or ["*"]))
    console.print(table)
    # Plain echo, not a Rich table cell: the key must never be wrapped or truncated.
    typer.echo(f"API key: {plaintext}")
    err_console.print("The API key is shown only this once.")


if TYPE_CHECKING:
    from realname.verification.scenarios import FaceSupport

if __name__ == "__main__":  # pragma: no cover
    app()
