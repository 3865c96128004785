"""The `champion` command line.

Each command's module is imported only when that command runs or shows its own help, so
`champion --help` imports Typer and nothing of the server, and a command imports only what it
runs (`serve`, `users` and `keys` the database, `score` pandas, the others httpx). The top-level help
lists the commands from `COMMANDS` without importing them; `tests/test_imports.py` checks each
summary against the command's own help.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import typer
import typer.main
from typer.core import TyperCommand, TyperGroup

if TYPE_CHECKING:
    # Typer's own copy of click, which its commands are built on.
    from typer._click import Command, Context, HelpFormatter


@dataclass(frozen=True)
class Lazy:
    """A command of the top level: where it lives (a Typer app or a function) and its one-line help."""

    module: str
    attribute: str
    summary: str


COMMANDS: dict[str, Lazy] = {
    "serve": Lazy(
        "champion.cli.server", "serve", "Start the server: migrate, create the first admin on first start, and serve."
    ),
    "score": Lazy(
        "champion.cli.deployments",
        "score",
        "Score a CSV file: its rows come back with a prediction column (and one probability column per class).",
    ),
    "users": Lazy("champion.cli.users", "users_app", "Manage users (run on the server's machine)."),
    "keys": Lazy("champion.cli.users", "keys_app", "Manage API keys (run on the server's machine)."),
    "models": Lazy("champion.cli.models", "models_app", "Work with a server's model registry."),
    "spaces": Lazy("champion.cli.transfer", "spaces_app", "Export a space to an archive, or import one into a space."),
    "deployments": Lazy(
        "champion.cli.deployments", "deployments_app", "Deploy models and manage deployments on a server."
    ),
}


class _Unloaded(TyperCommand):
    """A command whose module is not imported yet: its name and summary, for the group's help and its
    "did you mean" suggestions."""


class LazyGroup(TyperGroup):
    """The top-level group: a command is imported, and built by Typer, the first time it is asked for."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, lazy in COMMANDS.items():
            self.commands.setdefault(name, _Unloaded(name, help=lazy.summary))
        self._summaries_only = False

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        command = self.commands.get(cmd_name)
        if isinstance(command, _Unloaded) and not self._summaries_only:
            command = self.commands[cmd_name] = built(cmd_name)
        return command

    def format_help(self, ctx: Context, formatter: HelpFormatter) -> None:
        # The list of commands needs only their summaries: none of them is imported for it.
        self._summaries_only = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._summaries_only = False


app = typer.Typer(cls=LazyGroup, help="champion: a self-hosted model deployment server.", no_args_is_help=True)


@app.callback()
def _top() -> None:
    # Without a callback Typer would build an app with no registered command as a single command.
    pass


def built(name: str) -> Command:
    """The command `name` as `app.command`/`app.add_typer` would have built it, its module imported now."""
    lazy = COMMANDS[name]
    target = (
        _deployments_app() if name == "deployments" else getattr(importlib.import_module(lazy.module), lazy.attribute)
    )
    parent = typer.Typer(add_completion=False)
    if isinstance(target, typer.Typer):
        parent.add_typer(target, name=name)
        group = typer.main.get_command(parent)
        assert isinstance(group, TyperGroup)
        return group.commands[name]
    function: Callable[..., Any] = target
    parent.command(name)(function)
    return typer.main.get_command(parent)


@functools.cache
def _deployments_app() -> typer.Typer:
    """`champion deployments`, with the commands its neighbouring modules add (once per process)."""
    from champion.cli import deployments, replacement, validation

    deployments.deployments_app.command("replace")(replacement.replace)
    deployments.deployments_app.command("rollback")(replacement.rollback)
    deployments.deployments_app.command("history")(replacement.history)
    deployments.deployments_app.command("validate")(validation.validate)
    deployments.deployments_app.command("settings")(validation.settings)
    return deployments.deployments_app


def main() -> None:
    app()
