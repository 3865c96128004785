"""What `champion serve` says when it starts: where it serves, and how to use the first admin's key.

Said by the serving process once it has prepared the home folder and the database (`champion.server`).
On a terminal, rich sets the URL and the key off in bold; anywhere else (a log, a pipe, a service
manager's journal) the same lines are written plain, as rich would write them there, without
importing rich: that import is a few hundredths of a second of a start-up.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the command line imports this module, and has no use for the settings' library
    from champion.config import Settings

Part = str | tuple[str, str]
"""A piece of a line: plain text, or text and the style (rich's names) that sets it off on a terminal."""


def command(called: str | None = None) -> str:
    """How this command was called, so the suggested one runs as pasted (`make run` calls `.venv/bin/champion`).

    `called`: the first word of the command line that was parsed (this process's by default).
    """
    if called is None:
        called = sys.argv[0] if sys.argv else ""
    return called if Path(called).name == "champion" else "champion"


def error(message: str) -> None:
    """`message` on stderr after a red "error:", where a traceback would otherwise go."""
    from rich.console import Console
    from rich.text import Text

    Console(stderr=True).print(Text.assemble(("error:", "red"), " ", message), soft_wrap=True)


def greet(url: str, settings: Settings, admin_key: str | None, *, insecure: bool, called: str | None = None) -> None:
    """`called`: the first word of the command line that was parsed (`command`), this process's by default."""
    said = lines(url, settings, admin_key, insecure=insecure, called=called)
    if not sys.stdout.isatty():
        for line in said:
            print("".join(part if isinstance(part, str) else part[0] for part in line), flush=True)  # noqa: T201
        return
    from rich.console import Console
    from rich.text import Text

    terminal = Console()
    for line in said:
        # Soft-wrapped: the key and the command must survive copy and paste. Highlighted (numbers,
        # URLs) as rich highlights any string it prints.
        terminal.print(terminal.highlighter(Text.assemble(*line)), soft_wrap=True)


def lines(
    url: str, settings: Settings, admin_key: str | None, *, insecure: bool, called: str | None
) -> list[list[Part]]:
    """The greeting, line by line (plain lines rather than a box: the key and the command must survive
    copy and paste)."""
    called = command(called)
    said: list[list[Part]] = [["champion is serving at ", (url, "bold"), f"  (data folder: {settings.home.resolve()})"]]
    # A key the operator chose is in their environment already, and this output may end up in a
    # log; only a generated key, which nobody has yet, is shown (once).
    given = settings.admin_api_key is not None
    if admin_key:
        said.append(["First start: created the admin user ", (settings.admin_user, "bold"), "."])
        if given:
            said.append(["Its API key is the one in CHAMPION_ADMIN_API_KEY (not shown)."])
        else:
            said.append(["Admin API key, shown once, keep it safe: ", (admin_key, "bold yellow")])
    elif not given:
        said.append(
            [
                f"The API key of {settings.admin_user} was shown at the first start. Lost it? ",
                (f"{called} keys create {settings.admin_user}", "bold"),
                " makes a new one (run it here, with the same data folder).",
            ]
        )
    shown = "$CHAMPION_ADMIN_API_KEY" if given else admin_key or "<api key>"
    curl = "curl -k" if insecure else "curl"
    said.append(["Next, list your spaces:"])
    said.append([f'  {curl} -H "Authorization: Bearer {shown}" {url}/v2/spaces'])
    which = "that key" if given or admin_key else "your API key"
    said.append([f"or open {url}/ in a browser and sign in as {settings.admin_user} with {which}."])
    return said
