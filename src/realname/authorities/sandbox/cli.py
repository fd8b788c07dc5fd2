"""``realname sandbox``: load fixture files and generate synthetic populations.

Mounted by the main CLI as ``app.add_typer(sandbox_app, name="sandbox")``. The
sandbox lives in its own SQLite file, ``<var_dir>/sandbox.db`` by default.
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from realname.authorities.errors import FixtureError
from realname.authorities.sandbox.fixtures import load_fixture_file, load_into_store
from realname.authorities.sandbox.generator import generate_into
from realname.authorities.sandbox.store import SandboxStore
from realname.config import get_settings

sandbox_app = typer.Typer(
    help="The embedded sandbox authorities: registry fixtures and synthetic citizens.",
    no_args_is_help=True,
)
console = Console()
err_console = Console(stderr=True)

DbOption = Annotated[
    Path | None,
    typer.Option("--db", help="Sandbox SQLite file (default: <var_dir>/sandbox.db)."),
]


def default_db_path() -> Path:
    """Where the sandbox lives unless told otherwise."""
    return get_settings().var_dir / "sandbox.db"


def _worlds_table(store: SandboxStore, names: set[str] | None = None) -> Table:
    table = Table("world", "kind", "today", "citizens", "phones", "bank cards")
    for info in store.worlds():
        if names is None or info.name in names:
            table.add_row(
                info.name,
                info.kind,
                info.today.isoformat() if info.today else "",
                str(info.citizens),
                str(info.phones),
                str(info.bank_cards),
            )
    return table


@sandbox_app.command("load")
def load(
    file: Annotated[Path, typer.Argument(help="A fixture file (DESIGN §5 format).")],
    db: DbOption = None,
) -> None:
    """Load every scenario of FILE as a sandbox world (all or nothing)."""
    try:
        fixture = load_fixture_file(file)
    except FixtureError as error:
        err_console.print(f"[red]{error.diagnostics()}[/red]")
        for problem in error.problems[1:]:
            err_console.print(
                f"  scenario {problem['scenario']!r}: {problem['field']}: {problem['problem']}"
            )
        raise typer.Exit(code=2) from None
    with SandboxStore(db or default_db_path()) as store:
        names = load_into_store(store, fixture, source=str(file))
        console.print(_worlds_table(store, set(names)))
    console.print(f"loaded {len(names)} scenario(s) from {file}")


@sandbox_app.command("generate")
def generate(
    citizens: Annotated[int, typer.Option("--citizens", min=1, help="How many citizens.")],
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same data).")] = 0,
    db: DbOption = None,
    world: Annotated[str, typer.Option(help="Name of the world to (re)create.")] = "generated",
    today: Annotated[
        str | None, typer.Option(help="The date the population is generated for (ISO).")
    ] = None,
) -> None:
    """Generate a synthetic population of CITIZENS with phones and bank cards."""
    day = date.fromisoformat(today) if today else date.today()
    started = time.perf_counter()
    with (
        SandboxStore(db or default_db_path()) as store,
        Progress(
            TextColumn("[bold]generating"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress,
    ):
        task = progress.add_task("citizens", total=citizens)
        info = generate_into(
            store,
            citizens,
            seed,
            today=day,
            world=world,
            progress=lambda done: progress.update(task, completed=done),
        )
    elapsed = time.perf_counter() - started
    console.print(
        f"world {info.name!r}: {info.citizens} citizens, {info.phones} phones, "
        f"{info.bank_cards} bank cards in {elapsed:.1f} s ({info.citizens / elapsed:,.0f}/s)"
    )


@sandbox_app.command("worlds")
def worlds(db: DbOption = None) -> None:
    """List the worlds in the sandbox file."""
    with SandboxStore(db or default_db_path()) as store:
        console.print(_worlds_table(store))


@sandbox_app.command("people")
def people(
    world: Annotated[str, typer.Option(help="The world to list.")] = "generated",
    count: Annotated[int, typer.Option("-n", min=1, max=500, help="How many.")] = 10,
    db: DbOption = None,
) -> None:
    """Synthetic citizens of a world with their phones and cards, to try the service with.

    These people are invented by the generator, so they are shown in full: the
    sandbox's ground truth, which the verification engine itself never reads.
    """
    with SandboxStore(db or default_db_path()) as store:
        rows = store.query(
            "SELECT c.name, c.id_number, p.number, p.status, p.owner_id = c.id, b.number, b.status"
            " FROM citizens c JOIN worlds w ON w.id = c.world_id"
            " LEFT JOIN phones p ON p.world_id = c.world_id AND p.holder_id = c.id"
            " LEFT JOIN bank_cards b ON b.world_id = c.world_id AND b.owner_id = c.id"
            " WHERE w.name = ? ORDER BY c.id LIMIT ?",
            (world, count),
        )
    table = Table("name", "ID number", "phone (status, registered to them?)", "bank card (status)")
    for name, id_number, phone, status, own, card, card_status in rows:
        table.add_row(
            str(name),
            str(id_number),
            f"{phone} ({status}, {'yes' if own else 'no'})" if phone else "-",
            f"{card} ({card_status})" if card else "-",
        )
    console.print(table)


@sandbox_app.command("serve")
def serve(
    secret_id: Annotated[
        str,
        typer.Option(
            "--secret-id", envvar="REALNAME_SANDBOX_SECRET_ID", help="SecretId clients sign with."
        ),
    ],
    secret_key: Annotated[
        str,
        typer.Option(
            "--secret-key",
            envvar="REALNAME_SANDBOX_SECRET_KEY",
            help="SecretKey clients sign with (also the Bearer token of /_sandbox/).",
        ),
    ],
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")] = 8900,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    fixtures: Annotated[
        Path | None,
        typer.Option("--fixtures", help="Serve every scenario of this fixture file (DESIGN §5)."),
    ] = None,
    db: DbOption = None,
    world: Annotated[
        str | None,
        typer.Option(
            help="World to answer from by default (with --fixtures: a scenario id; "
            "otherwise a world of the sandbox file, default 'generated')."
        ),
    ] = None,
    realistic: Annotated[
        bool, typer.Option("--realistic", help="Answer with the real services' latencies.")
    ] = False,
    hang_seconds: Annotated[
        float, typer.Option("--hang-seconds", min=0, help="How long a timeout fault hangs.")
    ] = 30.0,
) -> None:
    """Serve the sandbox over HTTP as Tencent Cloud API 3.0 (FaceID 2018-03-01).

    Point the Tencent adapter at it with REALNAME_TENCENT_ENDPOINT=http://HOST:PORT and
    the same SecretId/SecretKey. Requests pick a world with the X-Sandbox-World header.
    """
    import ipaddress

    import uvicorn

    from realname.authorities.errors import SandboxWorldMissing
    from realname.authorities.sandbox.config import SandboxConfig
    from realname.authorities.sandbox.http import SandboxWorlds, create_app

    config = SandboxConfig.realistic() if realistic else SandboxConfig()
    try:
        if fixtures is not None:
            worlds = SandboxWorlds.from_fixture(
                load_fixture_file(fixtures), config=config, default=world
            )
        else:
            store = SandboxStore(db or default_db_path())
            worlds = SandboxWorlds.from_store(store, world or "generated", config=config)
    except FixtureError as error:
        err_console.print(f"[red]{error.diagnostics()}[/red]")
        raise typer.Exit(code=2) from None
    except (SandboxWorldMissing, KeyError):
        err_console.print(f"[red]no world {world or 'generated'!r} to serve[/red]")
        raise typer.Exit(code=2) from None
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        err_console.print(
            "[yellow]warning: the sandbox answers from synthetic data and its control API "
            "is guarded only by the secret key; keep it off shared networks.[/yellow]"
        )
    app = create_app(worlds, secrets={secret_id: secret_key}, hang_seconds=hang_seconds)
    console.print(
        f"serving {len(worlds)} world(s) (default {worlds.default!r}) as Tencent Cloud "
        f"FaceID on http://{host}:{port}"
    )
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=1)
