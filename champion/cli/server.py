"""`champion serve`: prepare the home folder and database, then run uvicorn."""

from __future__ import annotations

import errno
import os
import socket
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from champion.artifacts.errors import StoreUnavailable
from champion.config import Settings
from champion.context import bootstrap, open_context
from champion.server import exec_server

console = Console()
stderr = Console(stderr=True)


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8443,
    tls: Annotated[bool, typer.Option("--tls/--no-tls", help="Serve HTTPS (the WML client needs it).")] = False,
    cert: Annotated[Path | None, typer.Option(help="TLS certificate (PEM); self-signed when omitted.")] = None,
    key: Annotated[Path | None, typer.Option(help="TLS private key (PEM), with --cert.")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Server processes; each holds its own copy of the models.")] = 1,
    home: Annotated[Path | None, typer.Option(help="Data folder (default $CHAMPION_HOME or ./.champion).")] = None,
    access_log: Annotated[
        bool, typer.Option("--access-log/--no-access-log", help="Log a line per request (costs ~60 µs each).")
    ] = False,
) -> None:
    """Start the server: migrate, create the first admin on first start, and serve."""
    # Before anything else: a first start that failed to listen later would have made the admin's
    # key and shown it beside an error, or not at all.
    _require_free_port(host, port)
    if home is not None:
        os.environ["CHAMPION_HOME"] = str(home)
    if (cert is None) != (key is None):
        raise typer.BadParameter("--cert and --key go together")
    settings = Settings()
    try:
        context = open_context(settings)
    except StoreUnavailable as exc:  # a bucket that cannot be used: one line, not a traceback
        stderr.print(f"[red]error:[/red] {exc.message}", soft_wrap=True, highlight=False)
        raise typer.Exit(code=1) from None
    try:
        first_key = bootstrap(context)
    finally:
        context.close()
    self_signed_cert = tls and cert is None
    if self_signed_cert:
        from champion.tls import self_signed  # cryptography is needed only to make a certificate

        cert, key = self_signed(settings.home / "tls")
    scheme = "https" if cert else "http"
    url = f"{scheme}://{host}:{port}"
    _greet(url, settings, first_key.secret if first_key else None, insecure=self_signed_cert)
    exec_server(
        {
            "host": host,
            "port": port,
            "workers": workers,
            "ssl_certfile": str(cert) if cert else None,
            "ssl_keyfile": str(key) if key else None,
            "access_log": access_log,
        }
    )


def _require_free_port(host: str, port: int) -> None:
    """End the command, saying which port is taken and how to choose another, if `host:port` is in use."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise typer.BadParameter(f"cannot listen on {host!r}: {exc.strerror}", param_hint="--host") from None
    with socket.socket(family, kind, proto) as probe:
        # As uvicorn binds: a port whose last connections linger in TIME_WAIT is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                reason = f"port {port} is already in use (by another champion, or another program)"
            else:
                reason = str(exc.strerror or exc)
            other = 9443 if port != 9443 else 10443
            stderr.print(
                f"[red]error:[/red] cannot listen on {host}:{port}: {reason}.\n"
                f"Choose another port: {_command()} serve --port {other} (or make run PORT={other}).",
                soft_wrap=True,
                highlight=False,
            )
            raise typer.Exit(code=1) from None


def _command() -> str:
    """How this command was called, so the suggested one runs as pasted (`make run` calls `.venv/bin/champion`)."""
    called = sys.argv[0] if sys.argv else ""
    return called if Path(called).name == "champion" else "champion"


def _greet(url: str, settings: Settings, admin_key: str | None, *, insecure: bool) -> None:
    # Plain lines rather than a box: the key and the command must survive copy and paste.
    console.print(
        f"champion is serving at [bold]{url}[/bold]  (data folder: {settings.home.resolve()})", soft_wrap=True
    )
    # A key the operator chose is in their environment already, and this output may end up in a
    # log; only a generated key, which nobody has yet, is shown (once).
    given = settings.admin_api_key is not None
    if admin_key:
        console.print(f"First start: created the admin user [bold]{settings.admin_user}[/bold].")
        if given:
            console.print("Its API key is the one in CHAMPION_ADMIN_API_KEY (not shown).")
        else:
            console.print(
                f"Admin API key, shown once, keep it safe: [bold yellow]{admin_key}[/bold yellow]", soft_wrap=True
            )
    elif not given:
        console.print(
            f"The API key of {settings.admin_user} was shown at the first start. Lost it? "
            f"[bold]{_command()} keys create {settings.admin_user}[/bold] makes a new one "
            "(run it here, with the same data folder).",
            soft_wrap=True,
        )
    shown = "$CHAMPION_ADMIN_API_KEY" if given else admin_key or "<api key>"
    curl = "curl -k" if insecure else "curl"
    console.print("Next, list your spaces:")
    console.print(f'  {curl} -H "Authorization: Bearer {shown}" {url}/v2/spaces', soft_wrap=True)
    which = "that key" if given or admin_key else "your API key"
    console.print(f"or open {url}/ in a browser and sign in as {settings.admin_user} with {which}.", soft_wrap=True)
