"""The fuzz modules' database (one per module, on SQLite and on PostgreSQL), and the summary they print."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import throwaway_postgres

# Lines the fuzz modules add as they finish; printed once, in the terminal summary.
SUMMARY: list[str] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for line in SUMMARY:
        terminalreporter.write_line(line)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def module_database(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None for SQLite in the app's home; else a fresh PostgreSQL database shared by the module's
    tests (one app per module), dropped afterwards. PostgreSQL refuses what SQLite stores (a NUL in
    text), so the fuzz runs on both."""
    if request.param == "sqlite":
        yield None
        return
    request.getfixturevalue("postgres_available")
    with throwaway_postgres("champion_fuzz") as url:
        yield url
