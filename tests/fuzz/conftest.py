"""Prints what the fuzz did (requests sent, statuses seen, time taken) at the end of the run."""

from __future__ import annotations

import pytest

# Lines the fuzz modules add as they finish; printed once, in the terminal summary.
SUMMARY: list[str] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for line in SUMMARY:
        terminalreporter.write_line(line)
