"""The figures the replica tests measure (convergence, takeover), printed once in the terminal summary."""

from __future__ import annotations

import pytest

SUMMARY: list[str] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if SUMMARY:
        terminalreporter.section("replicas: measured")
    for line in SUMMARY:
        terminalreporter.write_line(line)
