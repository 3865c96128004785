"""The `champion` command line."""

from __future__ import annotations

import typer

from champion.cli import deployments, models, server, users

app = typer.Typer(help="champion: a self-hosted model deployment server.", no_args_is_help=True)
app.command("serve")(server.serve)
app.add_typer(users.users_app, name="users")
app.add_typer(users.keys_app, name="keys")
app.add_typer(models.models_app, name="models")
app.add_typer(deployments.deployments_app, name="deployments")
app.command("score")(deployments.score)


def main() -> None:
    app()
