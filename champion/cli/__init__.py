"""The `champion` command line."""

from __future__ import annotations

import typer

from champion.cli import deployments, models, replacement, server, transfer, users, validation

app = typer.Typer(help="champion: a self-hosted model deployment server.", no_args_is_help=True)
app.command("serve")(server.serve)
app.add_typer(users.users_app, name="users")
app.add_typer(users.keys_app, name="keys")
app.add_typer(models.models_app, name="models")
app.add_typer(transfer.spaces_app, name="spaces")
deployments.deployments_app.command("replace")(replacement.replace)
deployments.deployments_app.command("rollback")(replacement.rollback)
deployments.deployments_app.command("history")(replacement.history)
deployments.deployments_app.command("validate")(validation.validate)
deployments.deployments_app.command("settings")(validation.settings)
app.add_typer(deployments.deployments_app, name="deployments")
app.command("score")(deployments.score)


def main() -> None:
    app()
