"""``realname ops``: console operators and the review queue from the shell."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console

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
