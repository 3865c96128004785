"""`champion deployments ...` and `champion score`: deploy models on a running server and score CSV files."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import httpx
import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
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
from champion.cli.tables import folding, id_column

if TYPE_CHECKING:
    import pandas as pd

deployments_app = typer.Typer(help="Deploy models and manage deployments on a server.", no_args_is_help=True)

SpaceOption = Annotated[str, typer.Option(help="Space id.")]
SETTLING = ("initializing", "updating")
POLL_SECONDS = 0.25
CHUNK_ROWS = 1000
MODEL_VERSION_HEADER = "Champion-Model-Version"


def _kind(details: dict[str, Any]) -> str:
    return "batch" if "batch" in details["entity"] else "online"


def _asset(details: dict[str, Any]) -> str:
    asset = details["entity"]["asset"]
    return f"{asset['id']}:{asset.get('rev', '')}"


def _failure(details: dict[str, Any]) -> str:
    errors = details["entity"]["status"].get("failure", {}).get("errors", [])
    return "; ".join(e.get("message", "") for e in errors) or "no reason given"


@deployments_app.command("create")
def create(
    space: SpaceOption,
    model: Annotated[str, typer.Option(help="Model id to deploy.")],
    name: Annotated[str, typer.Option(help="Deployment name.")],
    rev: Annotated[int | None, typer.Option(help="Model revision (default: the newest).")] = None,
    batch: Annotated[bool, typer.Option("--batch", help="A batch deployment rather than an online one.")] = False,
    serving_name: Annotated[str | None, typer.Option(help="A name to score by instead of the id.")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the deployment to settle.")] = 600.0,
    server: ServerOption = DEFAULT_SERVER,
    api_key: KeyOption = "",
    insecure: InsecureOption = False,
) -> None:
    """Deploy a model and wait until it is ready (or failed, with the reason)."""
    body: dict[str, Any] = {
        "name": name,
        "space_id": space,
        "asset": {"id": model, **({"rev": str(rev)} if rev is not None else {})},
        "batch" if batch else "online": {},
    }
    if serving_name:
        body["serving_name"] = serving_name
    params = {"space_id": space, "version": API_VERSION}
    with connect(server, api_key, insecure) as client:
        details = check(client.post("/ml/v4/deployments", params=params, json=body))
        deployment_id = details["metadata"]["id"]
        deadline = time.monotonic() + timeout
        with console.status(f"deploying [bold]{name}[/bold] ({deployment_id})…"):
            while details["entity"]["status"]["state"] in SETTLING:
                if time.monotonic() > deadline:
                    state = details["entity"]["status"]["state"]
                    fail(f"deployment {deployment_id} is still {state} after {timeout:g} s")
                time.sleep(POLL_SECONDS)
                details = check(client.get(f"/ml/v4/deployments/{deployment_id}", params=params))
    state = details["entity"]["status"]["state"]
    if state != "ready":
        fail(f"deployment {deployment_id} {state}: {_failure(details)}")
    console.print(
        f"deployment [bold]{name}[/bold] id {deployment_id} is ready ({_kind(details)}, {_asset(details)})",
        soft_wrap=True,
    )
    for url in details["entity"]["status"].get("serving_urls", []):
        console.print(f"  scoring URL: {url}", soft_wrap=True)


@deployments_app.command("list")
def list_deployments(
    space: SpaceOption,
    server: ServerOption = DEFAULT_SERVER,
    api_key: KeyOption = "",
    insecure: InsecureOption = False,
) -> None:
    """List a space's deployments."""
    with connect(server, api_key, insecure) as client:
        page = check(client.get("/ml/v4/deployments", params={"space_id": space, "version": API_VERSION}))
    table = Table(*folding("name"), id_column(), *folding("kind", "state", "asset:rev"))
    for details in page["resources"]:
        metadata = details["metadata"]
        table.add_row(
            metadata["name"], metadata["id"], _kind(details), details["entity"]["status"]["state"], _asset(details)
        )
    console.print(table, crop=False)


@deployments_app.command("get")
def get(
    deployment_id: Annotated[str, typer.Argument(metavar="ID", help="Deployment id.")],
    space: SpaceOption,
    as_json: Annotated[bool, typer.Option("--json", help="Print the server's whole answer as JSON.")] = False,
    server: ServerOption = DEFAULT_SERVER,
    api_key: KeyOption = "",
    insecure: InsecureOption = False,
) -> None:
    """Show one deployment."""
    with connect(server, api_key, insecure) as client:
        params = {"space_id": space, "version": API_VERSION}
        details = check(client.get(f"/ml/v4/deployments/{deployment_id}", params=params))
    if as_json:
        # Plain text, not Rich: the output is meant for pipes (jq) and files.
        typer.echo(json.dumps(details, indent=2))
        return
    metadata, entity = details["metadata"], details["entity"]
    table = Table(*folding("field", "value"), show_header=False)
    table.add_row("name", metadata["name"])
    table.add_row("id", metadata["id"])
    table.add_row("space", metadata["space_id"])
    table.add_row("kind", _kind(details))
    table.add_row("state", entity["status"]["state"])
    table.add_row("asset:rev", _asset(details))
    serving_name = entity.get("online", {}).get("parameters", {}).get("serving_name")
    if serving_name:
        table.add_row("serving name", serving_name)
    for url in entity["status"].get("serving_urls", []):
        table.add_row("scoring URL", url)
    if entity["status"]["state"] == "failed":
        table.add_row("failure", _failure(details))
    table.add_row("created", metadata["created_at"])
    table.add_row("modified", metadata["modified_at"])
    console.print(table)


@deployments_app.command("delete")
def delete(
    deployment_id: Annotated[str, typer.Argument(metavar="ID", help="Deployment id.")],
    space: SpaceOption,
    server: ServerOption = DEFAULT_SERVER,
    api_key: KeyOption = "",
    insecure: InsecureOption = False,
) -> None:
    """Delete a deployment; it stops answering at once."""
    with connect(server, api_key, insecure) as client:
        params = {"space_id": space, "version": API_VERSION}
        check(client.delete(f"/ml/v4/deployments/{deployment_id}", params=params))
    console.print(f"deleted deployment {deployment_id}", soft_wrap=True)


def score(
    deployment: Annotated[str, typer.Argument(help="Deployment id or serving name.")],
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="A CSV file with a header.")],
    output: Annotated[Path | None, typer.Option(help="Write the scored CSV here (default: standard output).")] = None,
    chunk_rows: Annotated[int, typer.Option(min=1, help="Rows per request.")] = CHUNK_ROWS,
    server: ServerOption = DEFAULT_SERVER,
    api_key: KeyOption = "",
    insecure: InsecureOption = False,
) -> None:
    """Score a CSV file: its rows come back with a prediction column (and one probability column per class)."""
    import pandas as pd  # only this command reads CSV: the others start without pandas

    try:
        frame = pd.read_csv(file)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        fail(f"{file} is not a CSV file with a header line: {exc}")
    if frame.empty:
        fail(f"{file} holds no rows to score")
    # With the CSV on standard output, everything else goes to standard error so a pipe gets only CSV.
    notes = console if output else stderr
    fields = [str(column) for column in frame.columns]
    blocks: list[dict[str, Any]] = []
    versions: list[str] = []
    columns = (TextColumn("scoring"), BarColumn(), MofNCompleteColumn(), TextColumn("rows"), TimeRemainingColumn())
    with (
        connect(server, api_key, insecure) as client,
        Progress(*columns, console=stderr, disable=len(frame) <= chunk_rows) as progress,
    ):
        task = progress.add_task("scoring", total=len(frame))
        for start in range(0, len(frame), chunk_rows):
            chunk = frame.iloc[start : start + chunk_rows]
            body = {"input_data": [{"fields": fields, "values": _rows(chunk)}]}
            response = client.post(
                f"/ml/v4/deployments/{deployment}/predictions",
                params={"version": API_VERSION},
                content=orjson.dumps(body),
                headers={"Content-Type": "application/json"},
            )
            blocks.append(check(response, during=f"rows {start + 1}-{start + len(chunk)}")["predictions"][0])
            version = response.headers.get(MODEL_VERSION_HEADER)
            if version and version not in versions:
                versions.append(version)
            progress.advance(task, len(chunk))
        classes = _classes(client, versions[0]) if versions else None
    scored = _with_predictions(frame, blocks, classes)
    if output is None:
        typer.echo(scored.to_csv(index=False), nl=False)
    else:
        scored.to_csv(output, index=False)
        notes.print(f"wrote {len(scored)} scored rows to {output}")
    _report_versions(notes, versions)


def _rows(chunk: pd.DataFrame) -> list[tuple[Any, ...]]:
    # Column by column, `tolist` gives plain Python values; orjson writes a missing value (NaN) as null.
    return list(zip(*(chunk[column].tolist() for column in chunk.columns), strict=True))


def _classes(client: httpx.Client, version: str) -> list[Any] | None:
    """The class labels, in the order of the probabilities, from the model version's output schema."""
    model_id, _, rev = version.rpartition(":")
    response = client.get(f"/ml/v4/models/{model_id}", params={"rev": rev, "version": API_VERSION})
    if not response.is_success:
        return None
    for schema in response.json().get("entity", {}).get("schemas", {}).get("output", []):
        for field in schema.get("fields", []):
            if field.get("name") == "prediction" and "class_labels" in field.get("metadata", {}):
                labels: list[Any] = field["metadata"]["class_labels"]
                return labels
    return None


def _with_predictions(frame: pd.DataFrame, blocks: list[dict[str, Any]], classes: list[Any] | None) -> pd.DataFrame:
    import numpy as np

    labels: list[Any] = []
    probabilities: list[list[float] | None] = []
    for block in blocks:
        at_label = block["fields"].index("prediction")
        at_probability = block["fields"].index("probability") if "probability" in block["fields"] else None
        for row in block["values"]:
            labels.append(row[at_label])
            probabilities.append(row[at_probability] if at_probability is not None else None)
    scored = frame.copy()
    scored["prediction"] = labels
    width = max((len(p) for p in probabilities if p is not None), default=0)
    if width:
        names = classes if classes is not None and len(classes) == width else list(range(width))
        matrix = np.array([p if p is not None else [np.nan] * width for p in probabilities], dtype=float)
        for index, name in enumerate(names):
            scored[f"probability_{name}"] = matrix[:, index]
    return scored


def _report_versions(notes: Console, versions: list[str]) -> None:
    if len(versions) == 1:
        notes.print(f"model version {versions[0]}", highlight=False)
    elif versions:
        listed = ", ".join(versions)
        notes.print(f"model versions {listed}: the deployment's model was replaced while scoring", highlight=False)
