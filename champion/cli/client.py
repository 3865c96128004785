"""What every command that talks to a running server shares: its options, the HTTP client, error exits."""

from __future__ import annotations

import os
import ssl
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

CA_CERT_VARIABLE = "CHAMPION_CA_CERT"
"""A PEM file of certificates to trust, for a server whose certificate no public authority signed."""
SELF_SIGNED_CERT = ".champion/tls/cert.pem"
"""Where `make run` (`champion serve --tls` without --cert) keeps the certificate it made."""

ServerOption = Annotated[str, typer.Option(envvar=["CHAMPION_SERVER", "CHAMPION_URL"], help="Server URL.")]
KeyOption = Annotated[str, typer.Option(envvar="CHAMPION_API_KEY", help="Your API key.")]
InsecureOption = Annotated[
    bool,
    typer.Option(help=f"Skip TLS verification (self-signed certificates); or trust a file with ${CA_CERT_VARIABLE}."),
]

console = Console()
stderr = Console(stderr=True)
"""For messages beside output meant for a pipe, and for errors."""


def fail(message: str) -> NoReturn:
    stderr.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True, highlight=False)
    raise typer.Exit(code=1)


@contextmanager
def connect(server: str, api_key: str, insecure: bool, *, timeout: float | None = 60.0) -> Iterator[httpx.Client]:
    """A client signed in with `api_key`; a server that cannot be reached ends the command with why."""
    if not api_key.strip():
        fail(
            "no API key: give --api-key KEY or set CHAMPION_API_KEY (the server printed the admin's key at its "
            "first start; `champion keys create admin` on the server's machine makes another)"
        )
    headers = {"Authorization": f"Bearer {api_key.strip()}"}
    try:
        with httpx.Client(base_url=server, headers=headers, verify=_verify(insecure), timeout=timeout) as client:
            yield client
    except httpx.TransportError as exc:
        if _untrusted_certificate(exc):
            fail(
                f"the TLS certificate of {server} is not trusted ({_reason(exc)}). A server started with "
                f"`champion serve --tls` and no --cert (make run) has a self-signed one: add --insecure, or "
                f"verify it with {CA_CERT_VARIABLE}={SELF_SIGNED_CERT} (the server's data folder)"
            )
        fail(f"cannot talk to {server}: {exc or type(exc).__name__}")


def _verify(insecure: bool) -> ssl.SSLContext | bool:
    if insecure:
        return False
    ca_cert = os.environ.get(CA_CERT_VARIABLE)
    if not ca_cert:
        return True
    try:
        return ssl.create_default_context(cafile=ca_cert)
    except (OSError, ssl.SSLError) as exc:
        fail(f"{CA_CERT_VARIABLE}={ca_cert}: not a readable PEM certificate file ({exc})")


def _untrusted_certificate(exc: BaseException) -> bool:
    """Whether the failure, somewhere down its chain of causes, is a certificate that did not verify."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return "CERTIFICATE_VERIFY_FAILED" in str(exc)


def _reason(exc: BaseException) -> str:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError) and seen.verify_message:
            return str(seen.verify_message)
        seen = seen.__cause__ or seen.__context__
    return "CERTIFICATE_VERIFY_FAILED"


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
