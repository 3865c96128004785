"""Humility rules acting on predictions: which rows a rule distrusts, and what happens to them.

A deployment's humility settings (`deployments/settings.py`) are compiled once, when the
follower builds the deployment's view (`compiled`): each rule's feature resolved to its column
in the champion's input matrix, its observed values parsed to the column's kind. `apply` is a
pure function of those rules, the matrix and the model's answer; the engine calls it for every
face (WML, DataRobot, Open Inference, the UI's Test panel, batch jobs) so none holds a copy.

Per row, the first rule that triggers decides:

- `no_operation`: the row is counted, its prediction left alone;
- `override_prediction`: the row's label becomes the rule's `override_value`. A classifier's
  probabilities are left as the model gave them: they say what the model thought, and
  recomputing them for a value the model may not even know as a class would invent numbers;
- `throw_error`: the whole request is refused (`HumilityRefused`, an InvalidInput: a 400 in
  each face's shape), with the rule's `error_message` or one naming the rule and the row.

Triggers: `outlying_input` (the feature's value outside [lower, upper]; a missing or
non-numeric value is not outlying), `low_observation_region` (the value none of
`observed_values`), `uncertain_prediction` (a regressor's value outside [lower, upper]; a
classifier's top class probability within [lower, upper], i.e. the model is unsure; a
classifier that gives no probabilities never triggers it). A missing bound is open.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from champion.errors import InvalidInput
from champion.runtimes import Prediction, Signature, TargetType
from champion.runtimes.base import FeatureType

logger = logging.getLogger(__name__)

NO_OPERATION = "no_operation"
OVERRIDE = "override_prediction"
THROW = "throw_error"


class HumilityRefused(InvalidInput):
    """A `throw_error` humility rule triggered on a row: the request gets no predictions."""

    code = "humility_refused"

    def __init__(self, message: str, *, rule: str, row: int) -> None:
        super().__init__(message)
        self.rule = rule
        self.row = row


class RuleSpec(Protocol):
    """What a stored rule says (`deployments.settings.HumilityRule` meets it)."""

    @property
    def name(self) -> str: ...
    @property
    def trigger(self) -> str: ...
    @property
    def feature(self) -> str | None: ...
    @property
    def lower(self) -> float | None: ...
    @property
    def upper(self) -> float | None: ...
    @property
    def observed_values(self) -> list[str]: ...
    @property
    def action(self) -> str: ...
    @property
    def override_value(self) -> str | int | float | bool | None: ...
    @property
    def error_message(self) -> str | None: ...


@dataclass(frozen=True)
class Rule:
    """One rule, ready for the matrix: `column` is the feature's index, `observed` parsed once."""

    name: str
    trigger: str
    action: str
    lower: float
    upper: float
    column: int = -1
    numeric: bool = True
    observed: frozenset[Any] = frozenset()
    override_value: Any = None
    error_message: str | None = None


@dataclass(frozen=True)
class HumilityRules:
    """A deployment's enabled rules, compiled against its champion's signature."""

    rules: tuple[Rule, ...]
    classifier: bool


@dataclass(frozen=True)
class HumilityOutcome:
    """What the rules did to one answer."""

    prediction: Prediction
    """The answer after overrides (the model's own when nothing was overridden)."""
    triggered: tuple[str | None, ...]
    """Per row, the name of the first rule that triggered on it, or None."""
    counts: tuple[tuple[Rule, int], ...]
    """Rows each rule decided, for the rules that decided any."""
    refusal: HumilityRefused | None = None
    """Set when a throw_error rule decided a row: the caller raises it once it counted."""

    @property
    def rows(self) -> int:
        """How many rows a rule triggered on."""
        return sum(count for _, count in self.counts)


def compiled(specs: Sequence[RuleSpec], signature: Signature) -> HumilityRules | None:
    """The rules for `signature`'s matrix; None when there are none to apply.

    A rule watching a feature the model does not take is skipped with a warning: the settings
    and replacement checks refuse that, so it can only be a stale view for a moment.
    """
    columns = {f.name: (k, f.type) for k, f in enumerate(signature.features)}
    out = []
    for spec in specs:
        column, numeric = -1, True
        if spec.feature is not None:
            if spec.feature not in columns:
                logger.warning("humility rule %r watches %s, which the model does not take", spec.name, spec.feature)
                continue
            column, kind = columns[spec.feature]
            numeric = kind is not FeatureType.STRING
        out.append(
            Rule(
                name=spec.name,
                trigger=spec.trigger,
                action=spec.action,
                lower=-math.inf if spec.lower is None else spec.lower,
                upper=math.inf if spec.upper is None else spec.upper,
                column=column,
                numeric=numeric,
                observed=_observed(spec.observed_values, numeric),
                override_value=spec.override_value,
                error_message=spec.error_message,
            )
        )
    if not out:
        return None
    return HumilityRules(tuple(out), classifier=signature.target.type is not TargetType.REGRESSION)


def _observed(values: Sequence[str], numeric: bool) -> frozenset[Any]:
    """Observed values as the matrix holds them: floats for numeric columns (true/false as 1/0)."""
    if not numeric:
        return frozenset(values)
    parsed: set[float] = set()
    for value in values:
        text = value.strip().lower()
        if text in ("true", "false"):
            parsed.add(1.0 if text == "true" else 0.0)
            continue
        try:
            parsed.add(float(text))
        except ValueError:
            continue  # no number equals it, so it matches nothing in a numeric column
    return frozenset(parsed)


def apply(rules: HumilityRules, rows: npt.NDArray[Any], prediction: Prediction) -> HumilityOutcome:
    """Test each row against the rules (first match wins) and act on the answer."""
    count = len(rows)
    decided = np.full(count, -1, dtype=np.int64)
    for index, rule in enumerate(rules.rules):
        hits = _triggers(rule, rules.classifier, rows, prediction) & (decided < 0)
        decided[hits] = index
    if not (decided >= 0).any():
        return HumilityOutcome(prediction, (None,) * count, ())
    names = tuple(rules.rules[k].name if k >= 0 else None for k in decided.tolist())
    counts = tuple(
        (rule, n) for index, rule in enumerate(rules.rules) if (n := int(np.count_nonzero(decided == index)))
    )
    labels = prediction.labels
    for index, rule in enumerate(rules.rules):
        if rule.action == OVERRIDE and (mine := decided == index).any():
            labels = _overridden(labels, mine, rule.override_value)
    refusal = None
    throwing = [index for index, rule in enumerate(rules.rules) if rule.action == THROW]
    if throwing and (refused := np.isin(decided, throwing)).any():
        row = int(np.argmax(refused))  # the first refused row in input order names the refusal
        rule = rules.rules[int(decided[row])]
        refusal = HumilityRefused(_refusal_message(rule, row), rule=rule.name, row=row)
    answered = prediction if labels is prediction.labels else Prediction(labels, prediction.probabilities)
    return HumilityOutcome(answered, names, counts, refusal)


def _refusal_message(rule: Rule, row: int) -> str:
    return rule.error_message or f"humility rule {rule.name!r} ({rule.trigger}) refused row {row}"


def _triggers(rule: Rule, classifier: bool, rows: npt.NDArray[Any], prediction: Prediction) -> npt.NDArray[np.bool_]:
    if rule.trigger == "uncertain_prediction":
        if classifier:
            if prediction.probabilities is None:
                return np.zeros(len(rows), dtype=bool)
            top: npt.NDArray[np.float64] = np.asarray(prediction.probabilities, dtype=np.float64).max(axis=1)
            return (top >= rule.lower) & (top <= rule.upper)
        values = _numbers(prediction.labels)
        return (values < rule.lower) | (values > rule.upper)
    if rule.column >= rows.shape[1]:
        # Rows built for an earlier champion's signature in the instant its views changed: not this rule's.
        return np.zeros(len(rows), dtype=bool)
    column = rows[:, rule.column]
    if rule.trigger == "outlying_input":
        if not rule.numeric:
            return np.zeros(len(rows), dtype=bool)
        values = _numbers(column)
        return (values < rule.lower) | (values > rule.upper)  # NaN compares False: missing is not outlying
    # low_observation_region
    if rule.numeric:
        return ~np.isin(_numbers(column), np.fromiter(rule.observed, dtype=np.float64, count=len(rule.observed)))
    return np.fromiter((value not in rule.observed for value in column.tolist()), dtype=bool, count=len(column))


def _numbers(values: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    """`values` as floats; what is no number (a string in an object column) becomes NaN."""
    if values.dtype.kind in "fiub":
        return values.astype(np.float64, copy=False)
    out = np.empty(len(values), dtype=np.float64)
    for k, value in enumerate(values.tolist()):
        try:
            out[k] = float(value) if not isinstance(value, str) else math.nan
        except (TypeError, ValueError):
            out[k] = math.nan
    return out


def _overridden(labels: npt.NDArray[Any], mask: npt.NDArray[np.bool_], value: Any) -> npt.NDArray[Any]:
    """A copy of `labels` with `value` where `mask` holds; an object array when the dtype cannot hold it
    (a string in float labels, a longer string than fixed-width labels allow)."""
    kind = labels.dtype.kind
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if (kind == "f" and is_number) or (kind in "iu" and isinstance(value, int) and not isinstance(value, bool)):
        out = labels.copy()
    else:
        out = labels.astype(object)
    out[mask] = value
    return out
