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
