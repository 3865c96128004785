"""What every command that talks to a running server shares: its options, the HTTP client, error exits."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, NoReturn

import httpx
import typer
from rich.console import Console
from rich.markup import escape

DEFAULT_SERVER = "https://127.0.0.1:8443"
API_VERSION = "2026-01-01"
"""The `version` query parameter the WML API expects on most calls."""

ServerOption = Annotated[str, typer.Option(envvar="CHAMPION_URL", help="Server URL.")]
KeyOption = Annotated[str, typer.Option(envvar="CHAMPION_API_KEY", help="Your API key.")]
InsecureOption = Annotated[bool, typer.Option(help="Skip TLS verification (self-signed certificates).")]

console = Console()
stderr = Console(stderr=True)
"""For messages beside output meant for a pipe, and for errors."""


def fail(message: str) -> NoReturn:
    stderr.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True, highlight=False)
    raise typer.Exit(code=1)


@contextmanager
def connect(server: str, api_key: str, insecure: bool, *, timeout: float | None = 60.0) -> Iterator[httpx.Client]:
    """A client signed in with `api_key`; a server that cannot be reached ends the command with why."""
    headers = {"Authorization": f"Bearer {api_key}"}
    try:
        with httpx.Client(base_url=server, headers=headers, verify=not insecure, timeout=timeout) as client:
            yield client
    except httpx.TransportError as exc:
        fail(f"cannot talk to {server}: {exc or type(exc).__name__}")


def check(response: httpx.Response, *, during: str = "") -> dict[str, Any]:
    """The response's JSON body; an error response ends the command with the server's message."""
    if response.is_error:
        try:
            message = "; ".join(e["message"] for e in response.json()["errors"])
        except (ValueError, KeyError, TypeError):
            message = response.text or response.reason_phrase
        where = f" ({during})" if during else ""
        fail(f"{response.status_code}{where}: {message}")
    if not response.content:
        return {}
    body: dict[str, Any] = response.json()
    return body
