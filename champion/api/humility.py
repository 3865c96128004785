"""The `Champion-Humility` response header every prediction face sends for a deployment with humility rules.

It counts the rows a rule triggered on (whatever the rule's action). A deployment without rules in
force answers without it, exactly as before. Neither WML's nor DataRobot's prediction JSON has a
place for a per-row note their clients expect, so the count travels in this header only; per rule
counts are in `champion_humility_triggered_total` at /metrics.
"""

from __future__ import annotations

from collections.abc import Iterable

from champion.serving.engine import Answer

HEADER = "Champion-Humility"


def headers(answers: Iterable[Answer]) -> dict[str, str]:
    """`{HEADER: count}` when any answer went through humility rules; empty otherwise."""
    outcomes = [a.humility for a in answers if a.humility is not None]
    return {HEADER: str(sum(o.rows for o in outcomes))} if outcomes else {}
