"""`champion serve`: check the address, then become the serving process (`champion.server`).

The serving process itself prepares the home folder and the database (migrations, first admin,
start-up housekeeping) and greets: done here, they would import the database layer and the services
twice, once in this process and once after the exec, which was most of a start-up's time. For the
same reason this module leaves the greeting's module to the serving process: it is imported here
only to say that the address is taken.
"""

from __future__ import annotations

import errno
import os
import socket
import sys
from pathlib import Path
from typing import Annotated

import typer

from champion.server import exec_server


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
    self_signed_cert = tls and cert is None
    if self_signed_cert:
        # Here rather than in the serving process: cryptography is needed only to make a certificate.
        from champion.config import Settings
        from champion.tls import self_signed

        cert, key = self_signed(Settings().home / "tls")
    scheme = "https" if cert else "http"
    exec_server(
        {
            "host": host,
            "port": port,
            "workers": workers,
            "ssl_certfile": str(cert) if cert else None,
            "ssl_keyfile": str(key) if key else None,
            "access_log": access_log,
        },
        # How this command was called, for the commands the greeting suggests (`greeting.command`).
        greeting={"url": f"{scheme}://{host}:{port}", "insecure": self_signed_cert, "called": sys.argv[0]},
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
            from champion.greeting import command, error

            other = 9443 if port != 9443 else 10443
            error(
                f"cannot listen on {host}:{port}: {reason}.\n"
                f"Choose another port: {command()} serve --port {other} (or make run PORT={other})."
            )
            raise typer.Exit(code=1) from None
