"""`champion deployments validate | settings`: dry-run a replacement's checks, and read or change settings.

Both talk to champion's WML extensions (`POST .../validation`, `GET`/`PATCH .../settings`); the
server decides everything, these commands only parse options and show the answer.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

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
from champion.cli.deployments import SpaceOption
from champion.cli.replacement import COLOURS, DeploymentArgument
from champion.replacement.report import SCHEMA_MISMATCH_WARNING

SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="PATH=VALUE",
        help="Change a setting, e.g. segment_analysis.enabled=true (repeatable). The value is read as JSON when "
        "it parses, else as text; for a list setting, a value that is not a JSON list is split at commas.",
    ),
]


def validate(
    deployment_id: DeploymentArgument,
    space: SpaceOption,
    model: Annotated[str, typer.Option(help="The candidate model's id.")],
    rev: Annotated[int | None, typer.Option(help="The candidate's revision (default: the newest).")] = None,
    server: ServerOption = DEFAULT_SERVER,
    api_key: KeyOption = "",
    insecure: InsecureOption = False,
) -> None:
    """Run the checks a replacement would run, changing nothing; exit 1 if a check fails."""
    asset = {"id": model, **({"rev": str(rev)} if rev is not None else {})}
    params = {"space_id": space, "version": API_VERSION}
    with connect(server, api_key, insecure) as client:
        path = f"/ml/v4/deployments/{deployment_id}/validation"
        report = check(client.post(path, params=params, json={"asset": asset}))
    candidate = f"{model}:{rev if rev is not None else 'newest'}"
    table = Table("check", "status", "message", title=f"replacing deployment {deployment_id} with {candidate}")
    for item in report["checks"]:
        table.add_row(item["name"], _coloured(item["status"]), escape(item["message"]))
    console.print(table)
    status = report["status"]
    console.print(f"overall: {_coloured(status)} — {escape(report['message'])}", soft_wrap=True, highlight=False)
    if report.get("schema_mismatch"):
        stderr.print(f"[yellow]warning:[/yellow] {escape(SCHEMA_MISMATCH_WARNING)}", soft_wrap=True, highlight=False)
    if status == "warning":
        stderr.print("[yellow]note:[/yellow] warnings only: the replacement may go ahead; read them first")
    elif status != "passing":
        raise typer.Exit(code=1)


def settings(
    deployment_id: DeploymentArgument,
    space: SpaceOption,
    changes: SetOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the settings as JSON.")] = False,
    server: ServerOption = DEFAULT_SERVER,
    api_key: KeyOption = "",
    insecure: InsecureOption = False,
) -> None:
    """Show a deployment's settings, or change some with --set (editors and admins)."""
    params = {"space_id": space, "version": API_VERSION}
    path = f"/ml/v4/deployments/{deployment_id}/settings"
    with connect(server, api_key, insecure) as client:
        document = check(client.get(path, params=params))
        if changes:
            document = check(client.patch(path, params=params, json=parsed(changes, document)))
            stderr.print(f"updated the settings of deployment {deployment_id}")
    if as_json:
        # Plain text, not Rich: the output is meant for pipes (jq) and files.
        typer.echo(json.dumps(document, indent=2))
        return
    table = Table("setting", "value", title=f"settings of deployment {deployment_id}")
    for name, value in _flat(document):
        table.add_row(name, escape(json.dumps(value)))
    console.print(table)


def parsed(assignments: list[str], current: dict[str, Any]) -> dict[str, Any]:
    """`--set` assignments as a partial settings document; `current` tells which settings are lists."""
    changes: dict[str, Any] = {}
    for assignment in assignments:
        path, equals, text = assignment.partition("=")
        parts = path.strip().split(".")
        if not equals or not all(parts):
            fail(f"--set {assignment!r}: expected PATH=VALUE, e.g. segment_analysis.enabled=true")
        value = _value(text)
        if isinstance(_at(current, parts), list) and not isinstance(value, list):
            value = [_value(item.strip()) for item in text.split(",") if item.strip()]
        target = changes
        for part in parts[:-1]:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                fail(f"--set {assignment!r}: {part} is already given a value")
        target[parts[-1]] = value
    return changes


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _at(document: Any, parts: list[str]) -> Any:
    for part in parts:
        if not isinstance(document, dict) or part not in document:
            return None
        document = document[part]
    return document


def _flat(document: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Dotted names, as `--set` takes them, with their values; lists stay whole."""
    rows: list[tuple[str, Any]] = []
    for key, value in document.items():
        if isinstance(value, dict):
            rows.extend(_flat(value, f"{prefix}{key}."))
        else:
            rows.append((f"{prefix}{key}", value))
    return rows


def _coloured(status: str) -> str:
    colour = COLOURS.get(status)
    return f"[{colour}]{escape(status)}[/{colour}]" if colour else escape(status)
