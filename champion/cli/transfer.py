"""`champion spaces export` and `champion spaces import`: a space as an archive file, and imports into a space."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn
from rich.table import Table

from champion.cli.client import (
    DEFAULT_SERVER,
    InsecureOption,
    KeyOption,
    ServerOption,
    check,
    connect,
    console,
    fail,
)

spaces_app = typer.Typer(help="Export a space to an archive, or import one into a space.", no_args_is_help=True)

SpaceArgument = Annotated[str, typer.Argument(metavar="SPACE_ID", help="Space id.")]
CHUNK = 1 << 20
OUTCOME_STYLES = {"created": "green", "new_revisions": "green", "replaced": "yellow", "skipped": "yellow"}


def _progress(label: str) -> Progress:
    columns = (TextColumn(label), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    return Progress(*columns, console=console)


@spaces_app.command("export")
def export(
    space_id: SpaceArgument,
    output: Annotated[Path, typer.Option(dir_okay=False, help="Write the archive (.tar.gz) here.")],
    server: ServerOption = DEFAULT_SERVER,
    api_key: KeyOption = "",
    insecure: InsecureOption = False,
) -> None:
    """Download a space's models, revisions, data assets and deployments as one archive."""
    # Written beside the target and renamed at the end, so a failed download leaves no half archive.
    partial = output.with_name(output.name + ".part")
    with (
        connect(server, api_key, insecure, timeout=None) as client,
        client.stream("GET", f"/v2/spaces/{space_id}/export") as response,
    ):
        if response.is_error:
            response.read()
            check(response)
        try:
            _download(response, partial)
        except httpx.HTTPError as exc:
            partial.unlink(missing_ok=True)
            fail(f"the download broke off: {exc}")
    os.replace(partial, output)
    console.print(f"exported space {space_id} to {output} ({output.stat().st_size} bytes)")


def _download(response: httpx.Response, target: Path) -> None:
    # The archive is compressed as it streams, so its size is unknown up front: the bar counts bytes.
    with _progress("export") as progress, target.open("wb") as out:
        task = progress.add_task("export", total=None)
        for chunk in response.iter_bytes(CHUNK):
            out.write(chunk)
            progress.advance(task, len(chunk))


@spaces_app.command("import")
def import_(
    space_id: SpaceArgument,
    file: Annotated[
        Path | None, typer.Argument(exists=True, dir_okay=False, readable=True, help="An archive from `export`.")
    ] = None,
    from_space: Annotated[str | None, typer.Option(help="Import this space's content instead of a file.")] = None,
    server: ServerOption = DEFAULT_SERVER,
    api_key: KeyOption = "",
    insecure: InsecureOption = False,
) -> None:
    """Import an archive (or another space) into a space: new models, revisions, data assets and deployments."""
    if (file is None) == (from_space is None):
        fail("give either an archive FILE or --from-space, not both or neither")
    url = f"/v2/spaces/{space_id}/import"
    with connect(server, api_key, insecure, timeout=None) as client:
        if file is not None:
            with _progress("upload") as progress:
                response = client.post(
                    url, content=_chunks(file, progress), headers={"Content-Type": "application/gzip"}
                )
        else:
            with console.status(f"importing space {from_space}…"):
                response = client.post(url, params={"from_space": from_space})
        report = check(response)
    _print_report(report)


def _chunks(path: Path, progress: Progress) -> Iterator[bytes]:
    task = progress.add_task("upload", total=path.stat().st_size)
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            progress.update(task, advance=len(chunk))
            yield chunk


def _print_report(report: dict[str, Any]) -> None:
    table = Table("type", "name", "outcome", "id", "revisions", "reason")
    for item in report["items"]:
        style = OUTCOME_STYLES.get(item["outcome"], "")
        revisions = ", ".join(str(n) for n in item["revisions"])
        outcome = f"[{style}]{item['outcome']}[/{style}]" if style else item["outcome"]
        table.add_row(item["type"], item["name"], outcome, item["id"] or "", revisions, item["reason"])
    console.print(table)
    summary = ", ".join(f"{count} {outcome}" for outcome, count in report["summary"].items() if count)
    source = report["source"]
    console.print(f"imported {source['space_name']!r} into space {report['space_id']}: {summary or 'nothing'}")
