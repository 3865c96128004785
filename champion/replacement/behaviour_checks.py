"""The check that judges a candidate on how it behaves, not only on whether it fits: `replay`.

Before every replacement the candidate's trial (`trial.py`) gives it the champion's latest captured
rows. The check fails when the candidate errors on rows the champion answered — a model that passes
warm-up on sample rows can still break on what users really send — and warns when the two disagree
on more than the deployment's `replay.max_disagreement`. champion adds it to DataRobot's nineteen.
"""

from __future__ import annotations

from champion.replacement.facts import ReplacementFacts
from champion.replacement.report import FAILING, PASSING, WARNING, CheckResult


def replay(facts: ReplacementFacts) -> CheckResult:
    setting = facts.settings.replay
    replayed = facts.replayed
    if not setting.enabled:
        return CheckResult("replay", PASSING, "The replay check is switched off in the deployment's settings.")
    if facts.candidate.loads is False:
        return CheckResult(
            "replay", PASSING, "Nothing was replayed: the candidate did not load (see modelCanBeDeployed)."
        )
    if replayed is None:
        return CheckResult(
            "replay",
            PASSING,
            "No captured predictions of the current model to replay yet; the candidate was judged on sample rows only.",
        )
    if replayed.missing_features:
        return CheckResult(
            "replay",
            WARNING,
            f"The captured rows lack {', '.join(replayed.missing_features)}, which the candidate takes, "
            "so it could not replay them.",
        )
    if replayed.failed_rows:
        return CheckResult(
            "replay",
            FAILING,
            f"The candidate failed on {replayed.failed_rows} of {replayed.rows} recent rows the current model "
            f"answered ({replayed.first_error}).",
        )
    figures = _figures(facts)
    if replayed.disagreement is not None and replayed.disagreement > setting.max_disagreement:
        return CheckResult(
            "replay",
            WARNING,
            f"On {replayed.rows} recent rows the candidate {figures}, more than the deployment's limit of "
            f"{setting.max_disagreement:.0%}.",
        )
    return CheckResult(
        "replay", PASSING, f"On {replayed.rows} recent rows the candidate answered every row; it {figures}."
    )


def _figures(facts: ReplacementFacts) -> str:
    replayed = facts.replayed
    assert replayed is not None and replayed.disagreement is not None
    if facts.candidate.signature.target.classes:
        text = f"labels {replayed.disagreement:.1%} of them differently from the current model"
        if replayed.mean_probability_difference is not None:
            text += f" (probabilities differ by {replayed.mean_probability_difference:.3f} on average)"
        return text
    return f"differs from the current model by {replayed.disagreement:.1%} of the spread of its answers"
