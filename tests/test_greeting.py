"""The greeting says the same words on a terminal and in a log; only a terminal gets rich's styles.

Where the output is not a terminal (a log file, a pipe, a service manager's journal), the serving
process writes the lines itself and never imports rich for them.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from champion.config import Settings
from champion.greeting import greet

ROOT = Path(__file__).resolve().parent.parent
ANSI = re.compile(r"\x1b\[[0-9;]*m")
KEY = "chp_0123456789ab.a-key-shown-once-0123456789abcdef"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_and_a_log_get_the_same_lines_the_terminal_with_the_key_set_off(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    settings = Settings(home=tmp_path, admin_api_key=None, admin_user="admin")
    greet("https://127.0.0.1:8443", settings, KEY, insecure=True, called="champion")
    logged = capsys.readouterr().out
    assert "\x1b[" not in logged
    assert f"Admin API key, shown once, keep it safe: {KEY}\n" in logged

    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("COLUMNS", "60")  # narrower than the lines: they are not wrapped either way
    terminal = Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    greet("https://127.0.0.1:8443", settings, KEY, insecure=True, called="champion")
    shown = terminal.getvalue()
    assert re.search(r"\x1b\[[0-9;]*1[;m][^\n]*" + re.escape(KEY), shown)  # bold (and yellow)
    assert ANSI.sub("", shown) == logged


def test_greeting_a_log_imports_no_rich(tmp_path: Path) -> None:
    code = """
        import sys
        from champion.config import Settings
        from champion.greeting import greet

        greet("http://127.0.0.1:1", Settings(), None, insecure=False, called="champion")
        print("rich" in sys.modules)
        """
    env = {"CHAMPION_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "champion is serving at http://127.0.0.1:1" in done.stdout
    assert done.stdout.rstrip().endswith("False")
