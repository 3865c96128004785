"""`champion users ...` and `champion keys ...`: local administration on the server's database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from champion.cli.tables import folding, id_column
from champion.config import Settings
from champion.context import open_context
from champion.errors import ChampionError
from champion.users import service as users

users_app = typer.Typer(help="Manage users (run on the server's machine).", no_args_is_help=True)
keys_app = typer.Typer(help="Manage API keys (run on the server's machine).", no_args_is_help=True)
console = Console()


def _when(moment: datetime) -> str:
    return moment.isoformat(sep=" ", timespec="seconds")


@contextmanager
def database() -> Iterator[Session]:
    """A session on the configured database; a domain error ends the command with its message."""
    context = open_context(Settings())
    try:
        with context.sessions() as session:
            yield session
    except ChampionError as error:
        console.print(f"[red]error:[/red] {error.message}", soft_wrap=True)
        raise typer.Exit(code=1) from None
    finally:
        context.close()


@users_app.command("create")
def create_user(
    name: str,
    admin: Annotated[bool, typer.Option(help="Make the user a server admin.")] = False,
    with_key: Annotated[bool, typer.Option("--key/--no-key", help="Also issue an API key.")] = True,
) -> None:
    """Create a user (and an API key, shown once)."""
    with database() as session:
        user = users.create_user(session, name=name, is_admin=admin)
        console.print(f"user [bold]{user.name}[/bold] id {user.id}", soft_wrap=True)
        if with_key:
            issued = users.issue_key(session, user_id=user.id, name="created with the user")
            console.print(f"API key (shown once): [bold yellow]{issued.secret}[/bold yellow]", soft_wrap=True)


@users_app.command("list")
def list_users() -> None:
    """List users."""
    with database() as session:
        table = Table(id_column(), *folding("name", "admin", "created"))
        for user in users.list_users(session):
            table.add_row(user.id, user.name, "yes" if user.is_admin else "", _when(user.created_at))
        console.print(table, crop=False)


@keys_app.command("create")
def create_key(user: str, name: Annotated[str, typer.Option(help="A label for the key.")] = "") -> None:
    """Issue an API key for a user (by name); the key is shown once."""
    with database() as session:
        owner = users.find_user(session, name=user)
        issued = users.issue_key(session, user_id=owner.id, name=name)
        console.print(f"key id {issued.id}", soft_wrap=True)
        console.print(f"API key (shown once): [bold yellow]{issued.secret}[/bold yellow]", soft_wrap=True)


@keys_app.command("list")
def list_keys(user: str) -> None:
    """List a user's keys (prefixes only; the keys themselves are not stored)."""
    with database() as session:
        owner = users.find_user(session, name=user)
        table = Table(id_column(), *folding("prefix", "name", "created", "revoked"))
        for key in users.list_keys(session, user_id=owner.id):
            revoked = _when(key.revoked_at) if key.revoked_at else ""
            table.add_row(key.id, key.prefix + "…", key.name, _when(key.created_at), revoked)
        console.print(table, crop=False)


@keys_app.command("revoke")
def revoke_key(key_id: str) -> None:
    """Revoke a key by its id; it, the access tokens issued for it and the web UI sessions signed in
    with it stop working at once."""
    with database() as session:
        users.revoke_key(session, key_id=key_id)
        console.print(f"revoked {key_id}", soft_wrap=True)
