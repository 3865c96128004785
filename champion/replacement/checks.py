"""The one validation engine for replacing a deployment's model: named checks over frozen facts.

The validation endpoints, the replacement workflow, the WML asset patch and the UI all call
`validate`, so they can never disagree. Each check is a small pure function named as DataRobot
names it, all nineteen of them, plus champion's `replay` (`behaviour_checks.py`: the candidate
answers the champion's latest captured rows in its trial); `CHECKS` lists them in report order, so
a new check is one function and one line there, and the engine stays as it is. Most compare the two
models; the ones about segments, drift, humility, intervals and challengers hold the candidate to
the deployment's settings, and pass, saying so, when the deployment does not use that capability.
"""

from collections.abc import Callable, Sequence

from champion.replacement.behaviour_checks import replay
from champion.replacement.facts import ReplacementFacts
from champion.replacement.model_checks import (
    featureDataTypes,
    features,
    modelCanBeDeployed,
    modelStatus,
    notCurrentModel,
    permission,
    predictionReady,
    supported,
    target,
    targetClasses,
    targetType,
)
from champion.replacement.report import (
    FAILING,
    PASSING,
    SCHEMA_CHECKS,
    WARNING,
    CheckResult,
    CheckStatus,
    ValidationReport,
)
from champion.replacement.setting_checks import (
    combinedModelSegments,
    containsTrackedSegmentAttributes,
    driftTracking,
    humilityRules,
    predictionIntervals,
    seriesType,
    timeSeriesCompatibility,
    validChallenger,
)

Check = Callable[[ReplacementFacts], CheckResult]

# The registry, in report order. A new check is one function above and one entry here.
CHECKS: tuple[Check, ...] = (
    permission,
    notCurrentModel,
    supported,
    modelStatus,
    modelCanBeDeployed,
    replay,
    target,
    targetType,
    targetClasses,
    features,
    featureDataTypes,
    combinedModelSegments,
    seriesType,
    timeSeriesCompatibility,
    containsTrackedSegmentAttributes,
    driftTracking,
    humilityRules,
    predictionIntervals,
    validChallenger,
    predictionReady,
)


def validate(facts: ReplacementFacts, *, checks: Sequence[Check] | None = None) -> ValidationReport:
    """Run every check (all of them: a user fixing one problem should see the others too)."""
    return ValidationReport(checks=tuple(check(facts) for check in (CHECKS if checks is None else checks)))


__all__ = [
    "CHECKS",
    "FAILING",
    "PASSING",
    "SCHEMA_CHECKS",
    "WARNING",
    "Check",
    "CheckResult",
    "CheckStatus",
    "ValidationReport",
    *(check.__name__ for check in CHECKS),
    "validate",
]
