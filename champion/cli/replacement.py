"""`champion deployments replace | rollback | history`: swap a deployment's model, undo a swap, list the swaps."""

from __future__ import annotations

import time
from typing import Annotated, Any

import httpx
import typer
from rich.cells import cell_len
from rich.markup import escape
from rich.padding import Padding
from rich.table import Column, Table
from rich.text import Text

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


def _reason(value: str | Reason) -> Reason:
    """Any case in, the server's (upper) case out: the help, the errors and the history all say ACCURACY."""
    try:
        return Reason(str(value).upper())
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(Reason)}") from None


ReasonOption = Annotated[
    Reason, typer.Option(parser=_reason, metavar=f"<{'|'.join(Reason)}>", help="Why, for the history (any case).")
]
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
    to: Annotated[
        str | None,
        typer.Option(
            "--to", metavar="RECORD_ID", help="Back to the model before this replacement (an id from history)."
        ),
    ] = None,
    rev: Annotated[
        int | None, typer.Option(help="Back to this revision, which must have served the deployment before.")
    ] = None,
    model: Annotated[str | None, typer.Option(help="The model of --rev (default: the one it serves now).")] = None,
    reason: ReasonOption = Reason.OTHER,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    timeout: TimeoutOption = 600.0,
    server: ServerOption = DEFAULT_SERVER,
    api_key: KeyOption = "",
    insecure: InsecureOption = False,
) -> None:
    """Return the deployment to an earlier model: by default the one before its last successful replacement."""
    if to is not None and rev is not None:
        fail("give at most one of --to or --rev")
    if model is not None and rev is None:
        fail("--model names the model of --rev: give --rev too")
    body: dict[str, Any] = {"reason": reason.value}
    where = "its previous model"
    if to is not None:
        body["replacement_id"], where = to, f"the model before replacement {to}"
    elif rev is not None:
        body["asset"] = {"rev": str(rev), **({"id": model} if model else {})}
        where = f"{model or 'its model'} rev {rev}"
    with connect(server, api_key, insecure) as client:
        details = _get(client, deployment_id, space)
        if not yes:
            name, serving = details["metadata"]["name"], _version(_serving(details))
            typer.confirm(f"Roll {name} ({deployment_id}, serving {serving}) back to {where}?", abort=True)
        path = f"/ml/v4/deployments/{deployment_id}/rollback"
        started = check(client.post(path, params={"version": API_VERSION}, json=body))
        target = started["entity"]["asset"]
        _follow(client, started, space, timeout, "rolling back", expected=(target["id"], int(target["rev"])))


def history(
    deployment_id: DeploymentArgument,
    space: SpaceOption,
    server: ServerOption = DEFAULT_SERVER,
    api_key: KeyOption = "",
    insecure: InsecureOption = False,
) -> None:
    """List the deployment's replacements and rollbacks, newest first, with the ids rollback --to takes.

    One row per change when the terminal is wide enough for every column whole; otherwise one block
    per change, a field a line, so nothing is squeezed away and no id is ever cut.
    """
    with connect(server, api_key, insecure) as client:
        name = _get(client, deployment_id, space)["metadata"]["name"]
        path = f"/ml/v4/deployments/{deployment_id}/replacements"
        records = check(client.get(path, params={"version": API_VERSION}))["resources"]
    if not records:
        console.print(f"deployment {deployment_id} has never had its model replaced")
        return
    title = f"{escape(name)} ({deployment_id})"
    table = _history_table(records, title)
    if _width_whole(table) <= console.width:
        console.print(table)
        return
    console.print(f"[bold]{title}[/bold]", highlight=False)
    for record in records:
        console.print(_history_block(record))


def _history_table(records: list[dict[str, Any]], title: str) -> Table:
    # Every column but the message keeps its text whole: the layout switches to blocks instead.
    fixed = ("when", "record", "kind", "from → to", "reason", "who", "outcome")
    table = Table(*(Column(name, no_wrap=True) for name in fixed), "message", title=title)
    for record in records:
        entity = record["entity"]
        table.add_row(
            _when(record),
            record["metadata"]["id"],
            entity["kind"],
            f"{_version(entity['from'])} → {_version(entity['to'])}",
            entity["reason"],
            entity["actor"],
            _coloured(entity["outcome"]),
            escape(entity.get("message") or ""),
        )
    return table


MESSAGE_WIDTH = 24
"""The least room the message column gets in the one-row layout (it wraps; the others do not)."""


def _width_whole(table: Table) -> int:
    """The width `table` needs to show every no_wrap column whole (rich would squeeze them with "…")."""
    widths = [
        max([cell_len(str(column.header)), *(cell_len(Text.from_markup(str(c)).plain) for c in column.cells)])
        if column.no_wrap
        else MESSAGE_WIDTH
        for column in table.columns
    ]
    return sum(widths) + 3 * len(widths) + 1  # one space each side of a cell, a border between and around


def _history_block(record: dict[str, Any]) -> Padding:
    entity = record["entity"]
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column(overflow="fold")  # a value too long for the line wraps whole, never "…"
    grid.add_row("when", f"{_when(record)}  {entity['kind']}  {_coloured(entity['outcome'])}")
    grid.add_row("record", record["metadata"]["id"])
    grid.add_row("from", _version(entity["from"]))
    grid.add_row("to", _version(entity["to"]))
    grid.add_row("reason", entity["reason"])
    grid.add_row("who", entity["actor"])
    if entity.get("message"):
        grid.add_row("message", escape(entity["message"]))
    return Padding(grid, (1, 0, 0, 0))


def _when(record: dict[str, Any]) -> str:
    return str(record["metadata"]["created_at"]).replace("T", " ")[:19]


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
        now = f"still serves {_version(_serving(details))}" if status["state"] == "ready" else status["state"]
        fail(f"{doing} failed: {reason} (deployment {deployment_id} {now})")
    asset = details["entity"]["asset"]
    if expected and (asset["id"] != expected[0] or expected[1] not in (None, int(asset.get("rev", -1)))):
        fail(f"deployment {deployment_id} is ready but serves {_version(asset)}, not the requested model")
    console.print(f"deployment {deployment_id} is now serving {asset['id']} rev {asset.get('rev', '?')}")


def _serving(details: dict[str, Any]) -> dict[str, Any]:
    """The asset answering now: `status.serving_asset` (`entity.asset` is the target while updating)."""
    serving: dict[str, Any] = details["entity"]["status"].get("serving_asset") or details["entity"]["asset"]
    return serving


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
