"""``realname ops``: console operators and the review queue from the shell."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from realname.config import get_settings
from realname.ops.errors import OpsError
from realname.ops.operators import Role, create_operator

ops_app = typer.Typer(
    help="Operations console: operators and the review queue.", no_args_is_help=True
)
console = Console()
err_console = Console(stderr=True)


@ops_app.command("operator-add")
def operator_add(
    username: Annotated[
        str, typer.Argument(help="Login name (lower-case letters, digits, . _ -).")
    ],
    role: Annotated[Role, typer.Option("--role", "-r", help="reviewer, supervisor or auditor.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Add a console operator. The password is asked for (twice) unless --password-stdin."""
    from realname.store.db import make_engine, make_session_factory

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    engine = make_engine(get_settings().resolved_database_url)
    try:
        with make_session_factory(engine)() as session:
            operator = create_operator(session, username, password, role, now=datetime.now(UTC))
            session.commit()
            name, chosen = operator.username, operator.role
    except OpsError as error:
        err_console.print(f"[red]{error.code}[/red]: {error.message}")
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    console.print(f"operator {name} added with role {chosen}")


@ops_app.command("queue")
def queue_command(
    reason: Annotated[
        str | None, typer.Option("--reason", help="Only this reason (e.g. IDENTITY_IN_USE).")
    ] = None,
) -> None:
    """Open review cases, the earliest SLA deadline first (runs the intake first)."""
    from realname.ops.cases import list_queue, sync_review_cases
    from realname.ops.config import Reason, get_config
    from realname.store.db import make_engine, make_session_factory

    if reason is not None and reason not in Reason.__members__:
        err_console.print(f"[red]unknown reason[/red]: choose from {', '.join(Reason)}")
        raise typer.Exit(2)
    now = datetime.now(UTC)
    engine = make_engine(get_settings().resolved_database_url)
    try:
        with make_session_factory(engine)() as session:
            opened = sync_review_cases(session, now)
            items = list_queue(session, now=now, reason=reason)
            session.commit()
    finally:
        engine.dispose()
    config = get_config()
    table = Table(title=f"review queue ({len(items)} open, {opened} new)")
    for column in ("case", "reason", "account", "state", "assignee", "due (UTC)", "SLA"):
        table.add_column(column)
    for item in items:
        left = item.seconds_left
        sla = f"{abs(left) // 3600}h{abs(left) % 3600 // 60:02d}m"
        table.add_row(
            item.id[:8],
            config.reason_label(item.reason, "en"),
            item.account_id[:8],
            item.state,
            item.assignee or "-",
            item.due_at.strftime("%Y-%m-%d %H:%M"),
            f"[green]{sla} left[/green]" if left >= 0 else f"[red]overdue {sla}[/red]",
        )
    console.print(table)
