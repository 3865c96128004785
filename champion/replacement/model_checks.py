"""The checks that compare the candidate with the deployed model: who may swap, what loads, the
target, the features and their types, and whether the deployment can take a new model now."""

from __future__ import annotations

from collections.abc import Iterable

from champion.deployments.types import State
from champion.models import software_specs
from champion.replacement.facts import ModelFacts, ReplacementFacts
from champion.replacement.report import FAILING, PASSING, WARNING, CheckResult
from champion.runtimes.base import Feature, FeatureType, Framework, TargetType

# --- helpers -----------------------------------------------------------------------------------


def listed(items: Iterable[object], limit: int = 5) -> str:
    """The first `limit` items, then how many more: enough to act on, short enough to read."""
    shown = [str(item) for item in items]
    text = ", ".join(shown[:limit])
    return f"{text} and {len(shown) - limit} more" if len(shown) > limit else text


def _version(model: ModelFacts) -> str:
    return f"version {model.number}"


def class_label(value: str | int | float | bool) -> str:
    """A class label as text, so that 0, 0.0 and "0" are one label: JSON clients see them as equal."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _pairs(facts: ReplacementFacts) -> list[tuple[Feature, Feature]]:
    """(current, candidate) features that requests fill in the same place: by name, or by position
    when either model records no feature names (its names are placeholders)."""
    current, candidate = facts.current.signature, facts.candidate.signature
    if current.named and candidate.named:
        by_name = {f.name: f for f in current.features}
        return [(by_name[f.name], f) for f in candidate.features if f.name in by_name]
    return list(zip(current.features, candidate.features, strict=False))


# Every framework champion has a runtime for; a later framework without one would fail `supported`.
LOADABLE = frozenset(Framework)

_NUMERIC = frozenset({FeatureType.INTEGER, FeatureType.DOUBLE})

KIND = {
    TargetType.BINARY: "binary classifier",
    TargetType.MULTICLASS: "multiclass classifier",
    TargetType.REGRESSION: "regression model",
}


# --- the checks, in report order -----------------------------------------------------------------


def permission(facts: ReplacementFacts) -> CheckResult:
    """Fails unless the caller's role allows replacing this deployment's model: the rule is the
    caller's (spaces decide it), the check only makes it visible next to the others."""
    if facts.may_replace:
        return CheckResult("permission", PASSING, "You may replace this deployment's model.")
    return CheckResult(
        "permission",
        FAILING,
        "Your role in this space does not allow replacing this deployment's model; ask a space admin or editor.",
    )


def notCurrentModel(facts: ReplacementFacts) -> CheckResult:
    """Fails when the candidate is the deployed version: the swap would change nothing, yet
    record a replacement."""
    current, candidate = facts.current, facts.candidate
    if candidate.version_id == current.version_id:
        return CheckResult(
            "notCurrentModel",
            FAILING,
            f"The candidate ({_version(candidate)}) is the model already deployed; choose another version.",
        )
    origin = "" if candidate.model_id == current.model_id else " of another registered model"
    return CheckResult(
        "notCurrentModel",
        PASSING,
        f"The candidate ({_version(candidate)}{origin}) is not the model already deployed ({_version(current)}).",
    )


def supported(facts: ReplacementFacts) -> CheckResult:
    """Fails when champion cannot load the candidate's framework, or when the candidate's software
    specification does not carry that framework's runtime (the registry refuses such a spec, so only
    a model stored before that rule can have one). Warns when the candidate's spec is not one this
    server offers (it ran on another Python, say): champion loads it with its own libraries anyway.
    Warns when the framework changes (scikit-learn to ONNX, say): champion serves both, but a
    conversion can shift predictions, so the user should compare them. Passes when the framework
    stays the same, naming the software specification the deployment moves to when that changes:
    every spec describes this same server's libraries, so a spec change alone loads nothing else."""
    current, candidate = facts.current, facts.candidate
    if candidate.framework not in LOADABLE:
        return CheckResult(
            "supported",
            FAILING,
            f"champion cannot load {candidate.framework} models; it loads {', '.join(sorted(LOADABLE))}.",
        )
    spec = software_specs.find(spec_id=candidate.software_spec_id) if candidate.software_spec_id else None
    if spec is not None and candidate.framework not in spec.frameworks:
        fit = ", ".join(s.name for s in software_specs.CATALOGUE if candidate.framework in s.frameworks)
        return CheckResult(
            "supported",
            FAILING,
            f"The candidate is a {candidate.framework} model but its software specification {spec.name} runs "
            f"{' and '.join(spec.model_types)} models; change its model's software specification to one of {fit}.",
        )
    if candidate.software_spec_id and spec is None:
        offered = ", ".join(s.name for s in software_specs.CATALOGUE)
        return CheckResult(
            "supported",
            WARNING,
            f"The candidate's software specification {candidate.software_spec_id} is not one this server offers "
            f"({offered}); champion loads it with its own {candidate.framework} runtime, but change its model's "
            "software specification to one of those.",
        )
    if candidate.framework != current.framework:
        return CheckResult(
            "supported",
            WARNING,
            f"The framework changes from {current.framework} ({current.model_type}) to {candidate.framework} "
            f"({candidate.model_type}); champion loads both, but compare their predictions before relying on it.",
        )
    return CheckResult(
        "supported",
        PASSING,
        f"Both models are {candidate.framework} models ({current.model_type} and {candidate.model_type})"
        f"{_spec_move(current, spec)}.",
    )


def _spec_move(current: ModelFacts, spec: software_specs.SoftwareSpec | None) -> str:
    """How the software specification changes, when it does: said, since it is what the deployment shows next."""
    before = software_specs.find(spec_id=current.software_spec_id) if current.software_spec_id else None
    if spec is None or before is None or before.id == spec.id:
        return ""
    return f"; the software specification changes from {before.name} to {spec.name}"


def modelStatus(facts: ReplacementFacts) -> CheckResult:
    """Fails when the candidate's stored artifact no longer hashes to the sha256 recorded at upload:
    what would be loaded is not what was registered (corrupted or altered storage)."""
    candidate = facts.candidate
    if candidate.artifact_intact:
        return CheckResult("modelStatus", PASSING, "The candidate's stored artifact matches its recorded sha256.")
    return CheckResult(
        "modelStatus",
        FAILING,
        f"The stored artifact of the candidate ({_version(candidate)}) no longer matches its sha256; "
        "it was corrupted or altered in storage, so upload the model again.",
    )


def modelCanBeDeployed(facts: ReplacementFacts) -> CheckResult:
    """Fails when a trial load and warm-up failed, with the loader's reason. Passes when it succeeded,
    and also when none was tried: the replacement workflow loads and warms the candidate before the
    swap anyway, and stops there, with the old model still serving, if that fails."""
    candidate = facts.candidate
    if candidate.loads is None:
        return CheckResult(
            "modelCanBeDeployed",
            PASSING,
            "The candidate is loaded and warmed up on sample rows at replacement time, before the swap.",
        )
    if candidate.loads:
        took = f" in {candidate.load_seconds:.1f} s" if candidate.load_seconds is not None else ""
        return CheckResult(
            "modelCanBeDeployed", PASSING, f"The candidate loaded and answered sample rows in a trial{took}."
        )
    reason = candidate.load_error or "no reason was recorded"
    return CheckResult("modelCanBeDeployed", FAILING, f"The candidate could not be loaded: {reason}.")


def target(facts: ReplacementFacts) -> CheckResult:
    """Fails when both models name their target and the names differ: they predict different things.
    Warns when only one names it, since that cannot be confirmed. Passes when the names match, or
    when neither records one: nothing differs, and targetType and targetClasses still compare them."""
    current, candidate = facts.current.signature.target.name, facts.candidate.signature.target.name
    if current == candidate:
        if current is None:
            return CheckResult("target", PASSING, "Neither model records its target name; there is nothing to compare.")
        return CheckResult("target", PASSING, f"Both models predict '{current}'.")
    if candidate is None:
        return CheckResult(
            "target",
            WARNING,
            f"The current model predicts '{current}' but the candidate records no target name; "
            "confirm that it predicts the same thing.",
        )
    if current is None:
        return CheckResult(
            "target",
            WARNING,
            f"The candidate predicts '{candidate}' but the current model records no target name; "
            "confirm that they predict the same thing.",
        )
    return CheckResult(
        "target", FAILING, f"The candidate predicts '{candidate}', but the current model predicts '{current}'."
    )


def targetType(facts: ReplacementFacts) -> CheckResult:
    """Fails when the kind of prediction changes (binary, multiclass, regression): every client
    reading the answers would read them wrongly."""
    current, candidate = facts.current.signature.target.type, facts.candidate.signature.target.type
    if current is candidate:
        return CheckResult("targetType", PASSING, f"Both models are {KIND[current]}s.")
    return CheckResult(
        "targetType", FAILING, f"The candidate is a {KIND[candidate]}, but the current model is a {KIND[current]}."
    )


def targetClasses(facts: ReplacementFacts) -> CheckResult:
    """For classifiers, fails when the sets of class labels differ: clients would receive labels they
    do not expect, or stop receiving ones they do. Labels are compared as text, with whole floats
    written as integers, so 0, 0.0 and "0" are one label (they are equal to a JSON client). Warns
    when a classifier records no labels, or keeps the same labels in another order (probability
    columns follow that order). Passes when neither model is a classifier."""
    current, candidate = facts.current.signature.target, facts.candidate.signature.target
    regression = TargetType.REGRESSION
    if current.type is regression and candidate.type is regression:
        return CheckResult(
            "targetClasses",
            PASSING,
            "The candidate is not a classifier, nor is the current model: no classes to compare.",
        )
    if current.type is regression or candidate.type is regression:
        classifier = candidate if current.type is regression else current
        classes = (
            f"the classes {listed(class_label(c) for c in classifier.classes)}" if classifier.classes else "classes"
        )
        message = (
            f"The candidate predicts {classes}, but the current model is not a classifier."
            if classifier is candidate
            else f"The candidate is not a classifier, but the current model predicts {classes}."
        )
        return CheckResult("targetClasses", FAILING, message)
    if not current.classes or not candidate.classes:
        which = "candidate" if not candidate.classes else "current model"
        return CheckResult(
            "targetClasses",
            WARNING,
            f"The {which} records no class labels; confirm that both predict the same classes.",
        )
    old, new = [class_label(c) for c in current.classes], [class_label(c) for c in candidate.classes]
    added, dropped = [c for c in new if c not in old], [c for c in old if c not in new]
    if added or dropped:
        changes = [
            *([f"adds {listed(added)}"] if added else []),
            *([f"drops {listed(dropped)}"] if dropped else []),
        ]
        return CheckResult(
            "targetClasses", FAILING, f"The candidate's class labels differ: it {' and '.join(changes)}."
        )
    if old != new:
        return CheckResult(
            "targetClasses",
            WARNING,
            f"Both models predict the same classes, but in another order ({listed(new)}); "
            "probability columns follow the candidate's order.",
        )
    return CheckResult("targetClasses", PASSING, f"Both models predict the classes {listed(new)}.")


def features(facts: ReplacementFacts) -> CheckResult:
    """Fails when the candidate needs a feature the deployment does not take: requests written for
    it lack it. A feature an earlier champion took only warns (clients may have stopped sending it
    since). Warns when the candidate uses fewer (the deployment keeps accepting and ignoring the
    others), when the same features come in another order (values sent without field names are
    positional), or when one model records no feature names (matched by position). Passes only
    when both take the same features in the same order."""
    current, candidate = facts.current.signature, facts.candidate.signature
    old, new = [f.name for f in current.features], [f.name for f in candidate.features]
    if old == new:
        return CheckResult("features", PASSING, f"Both models take the same {len(new)} features, in the same order.")
    if not (current.named and candidate.named):
        if len(old) != len(new):
            return CheckResult(
                "features",
                FAILING,
                f"The candidate takes {len(new)} input columns and the current model {len(old)}; one of them records "
                "no feature names, so the columns cannot be matched.",
            )
        return CheckResult(
            "features",
            WARNING,
            f"One model records no feature names, so the {len(new)} columns are matched by position; requests "
            f"that name their fields must use the candidate's names: {listed(new)}.",
        )
    added, dropped = [n for n in new if n not in old], [n for n in old if n not in new]
    unknown = [n for n in added if n not in facts.retired_fields]
    if added and not unknown:
        return CheckResult(
            "features",
            WARNING,
            f"The candidate needs {listed(added)}, which an earlier champion took and the current model does "
            "not: clients that stopped sending them will get an error.",
        )
    if added:
        added = unknown
        return CheckResult(
            "features",
            FAILING,
            f"The candidate needs {len(added)} feature{'s' if len(added) > 1 else ''} the current model does not "
            f"take: {listed(added)}; requests written for this deployment lack them.",
        )
    if dropped:
        return CheckResult(
            "features",
            WARNING,
            f"The candidate no longer uses {len(dropped)} feature{'s' if len(dropped) > 1 else ''}: "
            f"{listed(dropped)}; the deployment keeps accepting them and ignores them.",
        )
    return CheckResult(
        "features",
        WARNING,
        f"Both models take the same features, in another order ({listed(new)}); requests that send values "
        "without field names must follow the candidate's order.",
    )


def featureDataTypes(facts: ReplacementFacts) -> CheckResult:
    """For the features both models take, fails when a type changes in a way that breaks requests
    (string against anything else, boolean against a number: champion refuses such values). Warns
    for integer against double: requests still parse, though an integer feature refuses fractions.
    Passes when every shared feature keeps its type."""
    breaking: list[str] = []
    numeric: list[str] = []
    pairs = _pairs(facts)
    for old, new in pairs:
        if old.type is new.type:
            continue
        change = f"{new.name} ({old.type} to {new.type})"
        (numeric if {old.type, new.type} <= _NUMERIC else breaking).append(change)
    if breaking:
        return CheckResult(
            "featureDataTypes",
            FAILING,
            f"Feature types change in a way that breaks requests: {listed(breaking)}.",
        )
    if numeric:
        return CheckResult(
            "featureDataTypes",
            WARNING,
            f"Feature types change between integer and double: {listed(numeric)}; requests still parse, "
            "but an integer feature refuses values with a fraction.",
        )
    if not pairs:
        return CheckResult("featureDataTypes", PASSING, "The models share no features, so no types to compare.")
    return CheckResult("featureDataTypes", PASSING, f"The {len(pairs)} shared features keep their types.")


def predictionReady(facts: ReplacementFacts) -> CheckResult:
    """Fails while the deployment cannot take a replacement: another one is running (updating), it
    is still starting (initializing), or it is inactive. Passes when it is ready, and when it has
    failed: replacing a failed deployment's model is how to repair it."""
    try:
        state = State(facts.deployment_state)
    except ValueError:
        return CheckResult(
            "predictionReady", FAILING, f"The deployment is in an unknown state '{facts.deployment_state}'."
        )
    match state:
        case State.READY:
            return CheckResult("predictionReady", PASSING, "The deployment is ready to take a new model.")
        case State.FAILED:
            return CheckResult(
                "predictionReady",
                PASSING,
                "The deployment has failed; replacing its model is how to repair it.",
            )
        case State.UPDATING:
            return CheckResult(
                "predictionReady",
                FAILING,
                "Another replacement is running on this deployment; wait for it to finish.",
            )
        case State.INITIALIZING:
            return CheckResult("predictionReady", FAILING, "The deployment is still starting; wait until it is ready.")
        case State.INACTIVE:
            # Finishing a replacement makes the deployment ready, which would activate it unasked.
            return CheckResult(
                "predictionReady", FAILING, "The deployment is inactive; activate it before replacing its model."
            )
