"""What `champion serve` says when it starts: where it serves, and how to use the first admin's key.

Said by the serving process once it has prepared the home folder and the database (`champion.server`),
so it imports rich and nothing of the command line.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

if TYPE_CHECKING:  # the command line imports this module, and has no use for the settings' library
    from champion.config import Settings

console = Console()
stderr = Console(stderr=True)


def command(called: str | None = None) -> str:
    """How this command was called, so the suggested one runs as pasted (`make run` calls `.venv/bin/champion`).

    `called`: the first word of the command line that was parsed (this process's by default).
    """
    if called is None:
        called = sys.argv[0] if sys.argv else ""
    return called if Path(called).name == "champion" else "champion"


def error(message: str) -> None:
    """One line on stderr, where a traceback would otherwise go."""
    stderr.print(f"[red]error:[/red] {message}", soft_wrap=True, highlight=False)


def greet(url: str, settings: Settings, admin_key: str | None, *, insecure: bool, called: str | None = None) -> None:
    """`called`: the first word of the command line that was parsed (`command`), this process's by default."""
    called = command(called)
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
            f"[bold]{called} keys create {settings.admin_user}[/bold] makes a new one "
            "(run it here, with the same data folder).",
            soft_wrap=True,
        )
    shown = "$CHAMPION_ADMIN_API_KEY" if given else admin_key or "<api key>"
    curl = "curl -k" if insecure else "curl"
    console.print("Next, list your spaces:")
    console.print(f'  {curl} -H "Authorization: Bearer {shown}" {url}/v2/spaces', soft_wrap=True)
    which = "that key" if given or admin_key else "your API key"
    console.print(f"or open {url}/ in a browser and sign in as {settings.admin_user} with {which}.", soft_wrap=True)
