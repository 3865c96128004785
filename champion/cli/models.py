"""`champion models upload`: register a model file with a running server, with a progress bar."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

from champion.cli.client import (
    API_VERSION,
    DEFAULT_SERVER,
    InsecureOption,
    KeyOption,
    ServerOption,
    check,
    connect,
    console,
)
from champion.models.software_specs import CATALOGUE, versioned_type

models_app = typer.Typer(help="Work with a server's model registry.", no_args_is_help=True)

SUFFIX_TYPES = {".onnx": "onnxruntime", ".ubj": "xgboost", ".json": "xgboost", ".txt": "lightgbm"}
CHUNK = 1 << 20


def _guess_type(path: Path) -> str:
    """The library the file's suffix suggests, typed as `<library>_<major.minor>` of the version installed."""
    return versioned_type(SUFFIX_TYPES.get(path.suffix.lower(), "scikit-learn"))


def _chunks(path: Path, progress: Progress) -> Iterator[bytes]:
    task = progress.add_task("upload", total=path.stat().st_size)
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            progress.update(task, advance=len(chunk))
            yield chunk


@models_app.command("upload")
def upload(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    space: Annotated[str, typer.Option(help="Space id.")],
    name: Annotated[str | None, typer.Option(help="Model name (default: the file name).")] = None,
    model_type: Annotated[
        str | None,
        typer.Option(
            "--type",
            help=f"Model type, <library>_<major.minor>, e.g. {versioned_type('scikit-learn')} "
            "(default: guessed from the file's suffix, with the version installed here).",
        ),
    ] = None,
    model: Annotated[str | None, typer.Option(help="Upload as a new revision of this model id.")] = None,
    server: ServerOption = DEFAULT_SERVER,
    api_key: KeyOption = "",
    insecure: InsecureOption = False,
) -> None:
    """Upload a model file (joblib/pickle, ONNX, XGBoost, LightGBM, or a .tar.gz holding one)."""
    params = {"space_id": space, "version": API_VERSION}
    with connect(server, api_key, insecure, timeout=None) as client:
        created = model is None
        if model is None:
            body = {
                "name": name or file.stem,
                "type": model_type or _guess_type(file),
                "software_spec": {"id": CATALOGUE[0].id},
                "space_id": space,
            }
            model = check(client.post("/ml/v4/models", params=params, json=body))["metadata"]["id"]
        columns = (*Progress.get_default_columns()[:1], BarColumn(), DownloadColumn(), TransferSpeedColumn())
        with Progress(*columns, console=console) as progress:
            response = client.put(
                f"/ml/v4/models/{model}/content",
                params={**params, "content_format": "native"},
                content=_chunks(file, progress),
                headers={"Content-Type": "application/octet-stream"},
            )
        if response.is_error and created:
            # Leave no empty model behind, as the WML client does after a failed upload.
            client.delete(f"/ml/v4/models/{model}", params=params)
        details = check(response)
    rev = details["metadata"].get("rev")
    console.print(f"model [bold]{details['metadata']['name']}[/bold] id {model} revision {rev}", soft_wrap=True)
