"""`champion deployments replace | rollback | history`: swap a deployment's model, undo a swap, list the swaps."""

from __future__ import annotations

import time
from typing import Annotated, Any

import httpx
import typer
from rich.markup import escape
from rich.table import Column, Table

from champion.cli.client import (
    API_VERSION,
    DEFAULT_SERVER,
    InsecureOption,
    KeyOption,
    ServerOption,
    check,
    connect,
    console,
    fail,
    stderr,
)
from champion.cli.deployments import POLL_SECONDS, SETTLING, SpaceOption
from champion.replacement.types import Reason

DeploymentArgument = Annotated[str, typer.Argument(metavar="DEPLOYMENT", help="Deployment id.")]
ReasonOption = Annotated[Reason, typer.Option(case_sensitive=False, help="Why, for the history.")]
TimeoutOption = Annotated[float, typer.Option(help="Seconds to wait for the swap to finish.")]
COLOURS = {"passing": "green", "warning": "yellow", "failing": "red", "succeeded": "green", "failed": "red"}


def replace(
    deployment_id: DeploymentArgument,
    space: SpaceOption,
    model: Annotated[str, typer.Option(help="The candidate model's id.")],
    rev: Annotated[int | None, typer.Option(help="The candidate's revision (default: the newest).")] = None,
    reason: ReasonOption = Reason.OTHER,
    timeout: TimeoutOption = 600.0,
    server: ServerOption = DEFAULT_SERVER,
    api_key: KeyOption = "",
    insecure: InsecureOption = False,
) -> None:
    """Replace the deployment's model after the server's checks; the old model serves until the new one is ready."""
    asset = {"id": model, **({"rev": str(rev)} if rev is not None else {})}
    # The WML route takes no reason yet and records OTHER; `reason` is sent for when it does.
    params = {"space_id": space, "version": API_VERSION, "reason": reason.value}
    with connect(server, api_key, insecure) as client:
        body = [{"op": "replace", "path": "/asset", "value": asset}]
        started = check(client.patch(f"/ml/v4/deployments/{deployment_id}", params=params, json=body))
        _follow(client, started, space, timeout, "replacing the model", expected=(model, rev))
        if reason is not Reason.OTHER:
            _note_reason(client, deployment_id, reason)


def rollback(
    deployment_id: DeploymentArgument,
    space: SpaceOption,
    reason: ReasonOption = Reason.OTHER,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    timeout: TimeoutOption = 600.0,
    server: ServerOption = DEFAULT_SERVER,
    api_key: KeyOption = "",
    insecure: InsecureOption = False,
) -> None:
    """Return the deployment to the model it served before its last successful replacement."""
    with connect(server, api_key, insecure) as client:
        details = _get(client, deployment_id, space)
        if not yes:
            name, serving = details["metadata"]["name"], _version(details["entity"]["asset"])
            typer.confirm(f"Roll {name} ({deployment_id}, serving {serving}) back to its previous model?", abort=True)
        path = f"/ml/v4/deployments/{deployment_id}/rollback"
        started = check(client.post(path, params={"version": API_VERSION}, json={"reason": reason.value}))
        _follow(client, started, space, timeout, "rolling back")


def history(
    deployment_id: DeploymentArgument,
    space: SpaceOption,
    server: ServerOption = DEFAULT_SERVER,
    api_key: KeyOption = "",
    insecure: InsecureOption = False,
) -> None:
    """List the deployment's replacements and rollbacks, newest first."""
    with connect(server, api_key, insecure) as client:
        name = _get(client, deployment_id, space)["metadata"]["name"]
        path = f"/ml/v4/deployments/{deployment_id}/replacements"
        records = check(client.get(path, params={"version": API_VERSION}))["resources"]
    columns = (Column("when", no_wrap=True), "kind", Column("from → to", no_wrap=True), "reason", "who", "outcome")
    table = Table(*columns, "message", title=f"{name} ({deployment_id})")
    for record in records:
        entity = record["entity"]
        table.add_row(
            record["metadata"]["created_at"].replace("T", " ")[:19],
            entity["kind"],
            f"{_version(entity['from'])} → {_version(entity['to'])}",
            entity["reason"],
            entity["actor"],
            _coloured(entity["outcome"]),
            escape(entity.get("message") or ""),
        )
    console.print(table if records else f"deployment {deployment_id} has never had its model replaced")


def _get(client: httpx.Client, deployment_id: str, space: str) -> dict[str, Any]:
    params = {"space_id": space, "version": API_VERSION}
    return check(client.get(f"/ml/v4/deployments/{deployment_id}", params=params))


def _follow(
    client: httpx.Client,
    details: dict[str, Any],
    space: str,
    timeout: float,
    doing: str,
    expected: tuple[str, int | None] | None = None,
) -> None:
    """Show the checks, wait (with a spinner) until the deployment stops updating, and end on how it went."""
    deployment_id, status = details["metadata"]["id"], details["entity"]["status"]
    validation = status.get("validation", {})
    table = Table("check", "status", "message", title=f"checks: {escape(validation.get('message', ''))}")
    for item in validation.get("checks", []):
        table.add_row(item["name"], _coloured(item["status"]), escape(item["message"]))
    console.print(table)
    warning = status.get("message", {}).get("text")
    if warning:
        stderr.print(f"[yellow]warning:[/yellow] {escape(warning)}", soft_wrap=True, highlight=False)
    deadline = time.monotonic() + timeout
    with console.status(f"{doing}: deployment {deployment_id}…"):
        while details["entity"]["status"]["state"] in SETTLING:
            if time.monotonic() > deadline:
                fail(f"deployment {deployment_id} is still {details['entity']['status']['state']} after {timeout:g} s")
            time.sleep(POLL_SECONDS)
            details = _get(client, deployment_id, space)
    status = details["entity"]["status"]
    errors = status.get("failure", {}).get("errors", [])
    if status["state"] != "ready" or errors:
        reason = "; ".join(e.get("message", "") for e in errors) or "no reason given"
        now = f"still serves {_version(details['entity']['asset'])}" if status["state"] == "ready" else status["state"]
        fail(f"{doing} failed: {reason} (deployment {deployment_id} {now})")
    asset = details["entity"]["asset"]
    if expected and (asset["id"] != expected[0] or expected[1] not in (None, int(asset.get("rev", -1)))):
        fail(f"deployment {deployment_id} is ready but serves {_version(asset)}, not the requested model")
    console.print(f"deployment {deployment_id} is now serving {asset['id']} rev {asset.get('rev', '?')}")


def _note_reason(client: httpx.Client, deployment_id: str, reason: Reason) -> None:
    path = f"/ml/v4/deployments/{deployment_id}/replacements"
    records = check(client.get(path, params={"version": API_VERSION}))["resources"]
    recorded = records[0]["entity"]["reason"] if records else None
    if recorded != reason.value:
        stderr.print(f"note: the server recorded the reason as {recorded}; its WML route does not take one yet")


def _version(reference: dict[str, Any]) -> str:
    if reference.get("deleted"):
        return "(deleted)"
    return f"{reference.get('id', '?')}:{reference.get('rev', '?')}"


def _coloured(status: str) -> str:
    colour = COLOURS.get(status)
    return f"[{colour}]{escape(status)}[/{colour}]" if colour else escape(status)
