"""Replacing a deployment's champion: validate, record, and hand the swap to an operation.

Every entry point (the WML asset patch, DataRobot's replace and validate, the UI, rollback)
goes through `validate` here, so they can never disagree (invariant 3). The validation report
is the one gate: `check` shows it, and `start` refuses exactly when it fails — with the error
kind its failing checks call for (`refusal`). Nothing is written unless the checks pass; once
they do, the deployment turns `updating` (`lifecycle.begin_replacement`), and a replace
operation plus a running record are committed together.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Sequence, Set
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from champion import patch
from champion.artifacts import ArtifactStore
from champion.artifacts.errors import DamagedBlob
from champion.challengers.tables import Challenger
from champion.db import new_id
from champion.deployments import lifecycle, runtime_values, settings
from champion.deployments import patch as rules
from champion.deployments import service as deployments
from champion.deployments.runtime_values import RuntimeValue
from champion.deployments.service import Described
from champion.deployments.tables import Deployment
from champion.deployments.types import State
from champion.errors import ChampionError, Conflict, InvalidInput, ValidationFailed
from champion.models import service as models
from champion.models.errors import ModelNotFound, NoContent, VersionNotFound
from champion.models.runtime_parameters import from_stored
from champion.models.tables import ModelVersion, RegisteredModel
from champion.monitoring import drift
from champion.monitoring.recent import recent_rows
from champion.operations import service as operations
from champion.operations.tables import Operation
from champion.operations.types import OperationKind
from champion.replacement import trial
from champion.replacement.checks import ValidationReport, validate
from champion.replacement.errors import NothingToRollBack, ReplacementForbidden, ReplacementInProgress
from champion.replacement.facts import ModelFacts, ReplacementFacts, TimeSeries
from champion.replacement.tables import ReplacementRecord
from champion.replacement.types import Kind, Outcome, Reason, ReplacePayload
from champion.runtimes import Framework, Signature
from champion.spaces import service as spaces
from champion.spaces.types import Role
from champion.users.service import Actor


@dataclass(frozen=True)
class Started:
    described: Described
    operation: Operation
    record: ReplacementRecord
    report: ValidationReport


def check(
    session: Session, actor: Actor, store: ArtifactStore, *, deployment_id: str, model_id: str, rev: int | None
) -> ValidationReport:
    """The named checks for replacing the deployment's champion with a candidate; writes nothing."""
    described = deployments.get(session, actor, deployment_id=deployment_id)
    candidate = _candidate(session, actor, described.deployment, model_id=model_id, rev=rev)
    return validate(_facts(session, actor, store, described, candidate))


def start(
    session: Session,
    actor: Actor,
    store: ArtifactStore,
    *,
    deployment_id: str,
    model_id: str,
    rev: int | None,
    reason: Reason = Reason.OTHER,
    kind: Kind = Kind.REPLACE,
    space_id: str | None = None,
    runtime_parameter_values: Sequence[RuntimeValue] = (),
) -> Started:
    """Validate, then record the replacement and its operation; the runner does the swap.

    `runtime_parameter_values` are checked against the candidate's declared parameters and merged
    with the deployment's current values; the operation carries the result, and the handler stores
    it with the swap, so a failed swap keeps the old values.
    """
    checked = _checked(
        session,
        actor,
        store,
        deployment_id=deployment_id,
        model_id=model_id,
        rev=rev,
        space_id=space_id,
        runtime_parameter_values=runtime_parameter_values,
    )
    begun = _begin(session, actor, checked, reason=reason, kind=kind)
    session.commit()
    return _started(session, actor, checked, begun)


def start_together(
    session: Session,
    actor: Actor,
    store: ArtifactStore,
    *,
    deployment_ids: Sequence[str],
    model_id: str,
    rev: int,
    reason: Reason = Reason.OTHER,
) -> list[Started]:
    """Replace the champion of every deployment in `deployment_ids` with one candidate: all start, or none.

    Each is validated as `start` validates one (the same checks, the same refusals), writing nothing.
    If any is refused, none starts, and the error names every refused deployment with its reason
    (`_refused_together`). Otherwise every replacement, its operation and its record are committed
    together; each then swaps through its own operation, so each ends like any replacement: a swap
    that fails leaves that deployment's old champion serving and the others' swaps unaffected.
    """
    checked: list[_Checked] = []
    refused: list[tuple[str, ChampionError]] = []
    for deployment_id in deployment_ids:
        try:
            checked.append(_checked(session, actor, store, deployment_id=deployment_id, model_id=model_id, rev=rev))
        except ChampionError as error:
            refused.append((deployment_id, error))
    if refused:
        session.rollback()
        raise _refused_together(session, refused, total=len(deployment_ids))
    begun = []
    for item in checked:
        try:
            begun.append(_begin(session, actor, item, reason=reason, kind=Kind.REPLACE))
        except ReplacementInProgress as error:  # `_begin` rolled back every replacement begun before it
            raise _refused_together(session, [(item.described.deployment.id, error)], total=len(checked)) from None
    session.commit()
    return [_started(session, actor, item, pair) for item, pair in zip(checked, begun, strict=True)]


def _refused_together(session: Session, refused: list[tuple[str, ChampionError]], *, total: int) -> ChampionError:
    """One error for replacements refused together, naming each deployment and why.

    Its kind is the one the caller can do least about: a failing check (the candidate does not fit a
    deployment; retrying will not help) before bad input, before a conflict (a deployment busy now).
    """
    named = "; ".join(f"{_name(session, deployment_id)} ({deployment_id}): {e.message}" for deployment_id, e in refused)
    text = f"{len(refused)} of the {total} deployments cannot take this model, so none was replaced. {named}"
    errors = [error for _, error in refused]
    if failed := [e for e in errors if isinstance(e, ValidationFailed)]:
        return ValidationFailed(text, report=failed[0].report)
    if invalid := [e for e in errors if isinstance(e, InvalidInput)]:
        return InvalidInput(text, field=invalid[0].field)
    if [e for e in errors if isinstance(e, Conflict)]:
        return ReplacementInProgress(text)
    return errors[0]


def _name(session: Session, deployment_id: str) -> str:
    deployment = session.get(Deployment, deployment_id)
    return repr(deployment.name) if deployment is not None else "a deployment"


@dataclass(frozen=True)
class _Checked:
    """A replacement that passed its checks, with what `_begin` records."""

    described: Described
    candidate: ModelVersion
    report: ValidationReport
    values: dict[str, Any]


def _checked(
    session: Session,
    actor: Actor,
    store: ArtifactStore,
    *,
    deployment_id: str,
    model_id: str,
    rev: int | None,
    space_id: str | None = None,
    runtime_parameter_values: Sequence[RuntimeValue] = (),
) -> _Checked:
    """Validate a replacement, writing nothing; the refusal (`refusal`) if it may not start."""
    described = deployments.get(session, actor, deployment_id=deployment_id, space_id=space_id)
    deployment = described.deployment
    candidate = _candidate(session, actor, deployment, model_id=model_id, rev=rev)
    facts = _facts(session, actor, store, described, candidate)
    report = validate(facts)
    if (refused := refusal(report, deployment_state=facts.deployment_state)) is not None:
        raise refused
    values = runtime_values.merge(
        from_stored(candidate.runtime_parameters),
        settings.stored_runtime_values(session, deployment_id=deployment.id),
        runtime_parameter_values,
    )
    return _Checked(described, candidate, report, values)


def _begin(
    session: Session, actor: Actor, checked: _Checked, *, reason: Reason, kind: Kind
) -> tuple[Operation, ReplacementRecord]:
    """Turn the deployment `updating` and add the operation and record to the transaction; the caller commits.

    If another request moved the deployment first, the whole transaction is rolled back.
    """
    deployment, candidate = checked.described.deployment, checked.candidate
    previous = lifecycle.begin_replacement(session, deployment, candidate_version_id=candidate.id)
    if previous is None:
        session.rollback()
        raise ReplacementInProgress("another replacement of this deployment has just started")
    record_id = new_id()
    operation = operations.create(
        session,
        kind=OperationKind.REPLACE,
        space_id=deployment.space_id,
        target_id=deployment.id,
        created_by=actor.user_id,
        payload=ReplacePayload(
            to_version_id=candidate.id, previous_state=previous, record_id=record_id, runtime_values=checked.values
        ),
    )
    session.flush()
    record = ReplacementRecord(
        id=record_id,
        deployment_id=deployment.id,
        kind=kind.value,
        from_version_id=deployment.version_id,
        to_version_id=candidate.id,
        reason=reason.value,
        actor_id=actor.user_id,
        operation_id=operation.id,
        outcome=Outcome.RUNNING.value,
        report=checked.report.to_dict(),
    )
    session.add(record)
    return operation, record


def _started(session: Session, actor: Actor, checked: _Checked, begun: tuple[Operation, ReplacementRecord]) -> Started:
    deployment = checked.described.deployment
    session.refresh(deployment)
    return Started(deployments.get(session, actor, deployment_id=deployment.id), *begun, checked.report)


def refusal(report: ValidationReport, *, deployment_state: str) -> ChampionError | None:
    """The error that refuses a replacement whose report fails, or None when it may start.

    The report decides; this only picks the kind a caller expects: a role that may not replace is
    a permission matter, a deployment still starting or being replaced is a conflict worth
    retrying, anything else is a candidate that failed its checks.
    """
    failing = {check.name: check for check in report.failing()}
    if not failing:
        return None
    if "permission" in failing:
        return ReplacementForbidden(failing["permission"].message, report=report)
    if "predictionReady" in failing and deployment_state in (State.UPDATING, State.INITIALIZING):
        return ReplacementInProgress(f"the deployment is {deployment_state}: wait for it to finish, then retry")
    return ValidationFailed(f"the replacement was refused. {report.message}", report=report)


@dataclass(frozen=True)
class BeforeReplacement:
    """Roll back to the champion a recorded replacement started from ("the model before this one")."""

    record_id: str


@dataclass(frozen=True)
class EarlierRevision:
    """Roll back to a revision that served the deployment before; `model_id` None means the champion's model."""

    rev: int
    model_id: str | None = None


RollbackTo = BeforeReplacement | EarlierRevision | None
"""Where a rollback goes; None is the plain rollback: the champion before the last successful replacement."""


def rollback(
    session: Session,
    actor: Actor,
    store: ArtifactStore,
    *,
    deployment_id: str,
    reason: Reason = Reason.OTHER,
    to: RollbackTo = None,
) -> Started:
    """Return to an earlier champion (`to`; by default the one before the last successful replacement).

    The target goes through the same checks and swap as any replacement: a rollback is recorded
    as one (kind `rollback`), so a second plain rollback returns to the model the first replaced.
    """
    deployments.get(session, actor, deployment_id=deployment_id)
    previous = _rollback_target(session, deployment_id=deployment_id, to=to)
    return start(
        session,
        actor,
        store,
        deployment_id=deployment_id,
        model_id=previous.model_id,
        rev=previous.number,
        reason=reason,
        kind=Kind.ROLLBACK,
    )


def rollback_target(
    session: Session, actor: Actor, *, deployment_id: str, to: RollbackTo = None
) -> ModelVersion | None:
    """The model version `rollback` would return to, or None when there is nothing to roll back to."""
    deployments.get(session, actor, deployment_id=deployment_id)
    try:
        return _rollback_target(session, deployment_id=deployment_id, to=to)
    except NothingToRollBack:
        return None


def _rollback_target(session: Session, *, deployment_id: str, to: RollbackTo = None) -> ModelVersion:
    """The version a rollback returns to; NothingToRollBack, or InvalidInput naming the target, saying why not.

    A rollback only goes back: to the `from` of a replacement recorded for this deployment, or to a
    revision that was its champion once (the `from` or the successful `to` of one of its records).
    Anything else is a replacement, not a rollback, and is refused so.
    """
    if isinstance(to, BeforeReplacement):
        record = session.get(ReplacementRecord, to.record_id)
        if record is None or record.deployment_id != deployment_id:
            raise InvalidInput(f"no replacement {to.record_id!r} in this deployment's history", field="replacement_id")
        return _version_or_gone(session, record.from_version_id)
    if isinstance(to, EarlierRevision):
        return _earlier_revision(session, deployment_id=deployment_id, to=to)
    last = session.scalar(
        select(ReplacementRecord)
        .where(ReplacementRecord.deployment_id == deployment_id, ReplacementRecord.outcome == Outcome.SUCCEEDED.value)
        .order_by(ReplacementRecord.created_at.desc())
        .limit(1)
    )
    if last is None:
        raise NothingToRollBack("the deployment has no earlier champion to roll back to")
    return _version_or_gone(session, last.from_version_id)


def _version_or_gone(session: Session, version_id: str) -> ModelVersion:
    previous = session.get(ModelVersion, version_id)
    if previous is None:
        raise NothingToRollBack("the earlier champion's model has been deleted")
    return previous


def _earlier_revision(session: Session, *, deployment_id: str, to: EarlierRevision) -> ModelVersion:
    deployment = session.get(Deployment, deployment_id)
    assert deployment is not None, "the caller read the deployment"
    model_id = to.model_id or deployment.model_id
    version = session.scalar(
        select(ModelVersion).where(ModelVersion.model_id == model_id, ModelVersion.number == to.rev)
    )
    # One answer whether the revision does not exist or never served here: a model of another
    # space must not be told apart from no model at all.
    served = (
        None
        if version is None
        else session.scalar(
            select(ReplacementRecord.id)
            .where(
                ReplacementRecord.deployment_id == deployment_id,
                (ReplacementRecord.from_version_id == version.id)
                | (
                    (ReplacementRecord.to_version_id == version.id)
                    & (ReplacementRecord.outcome == Outcome.SUCCEEDED.value)
                ),
            )
            .limit(1)
        )
    )
    if version is None or served is None:
        raise InvalidInput(
            f"revision {to.rev} of model {model_id!r} never served this deployment: a rollback only goes back "
            "to an earlier champion; replace the model to deploy another",
            field="asset.rev",
        )
    return version


@dataclass(frozen=True)
class HistoryEntry:
    """A replacement record with the two versions it names (None if since deleted)."""

    record: ReplacementRecord
    from_version: ModelVersion | None
    to_version: ModelVersion | None


def history(session: Session, actor: Actor, *, deployment_id: str) -> list[HistoryEntry]:
    """Every replacement and rollback of the deployment, newest first."""
    deployments.get(session, actor, deployment_id=deployment_id)
    query = (
        select(ReplacementRecord)
        .where(ReplacementRecord.deployment_id == deployment_id)
        .order_by(ReplacementRecord.created_at.desc())
    )
    return [
        HistoryEntry(r, session.get(ModelVersion, r.from_version_id), session.get(ModelVersion, r.to_version_id))
        for r in session.scalars(query)
    ]


@dataclass(frozen=True)
class Patched:
    described: Described
    replacement: Started | None


def apply_patch(
    session: Session,
    actor: Actor,
    store: ArtifactStore,
    *,
    deployment_id: str,
    operations_body: Any,
    space_id: str | None = None,
    expected_etag: str | None = None,
    reason: Reason = Reason.OTHER,
) -> Patched:
    """A JSON Patch on a deployment: `/asset` starts a replacement, anything else edits details.

    With `expected_etag`, only if the deployment is still as the caller read it.
    """
    parsed = patch.parse_operations(operations_body)
    if not rules.touches(parsed, rules.ASSET_PATH):
        described = deployments.update_details(
            session,
            actor,
            deployment_id=deployment_id,
            operations=parsed,
            space_id=space_id,
            expected_etag=expected_etag,
        )
        return Patched(described, None)
    described = deployments.get(session, actor, deployment_id=deployment_id, space_id=space_id)
    deployments.check_unchanged(described, expected_etag)
    patch.check_paths(parsed, rules.PATCHABLE)
    rules.check_rules(parsed, role=spaces.role_of(session, actor, described.deployment.space_id))
    current = deployments.document(described).model_dump(mode="json")
    # The whole document is validated, so a patch that removes `/asset` is refused naming it.
    asset = patch.validated(rules.DeploymentDocument, patch.apply(current, parsed), prefix="/", separator="/").asset
    started = start(
        session,
        actor,
        store,
        deployment_id=deployment_id,
        model_id=asset.id,
        rev=int(asset.rev) if asset.rev is not None else None,
        reason=reason,
    )
    return Patched(started.described, started)


def _candidate(
    session: Session, actor: Actor, deployment: Deployment, *, model_id: str, rev: int | None
) -> ModelVersion:
    try:
        model = models.get_model(session, actor, model_id=model_id, space_id=deployment.space_id)
        if rev is not None:
            return models.get_version(session, actor, model_id=model.id, number=rev)
        version = models.latest_version(session, model_id=model.id)
    except ModelNotFound:
        raise InvalidInput(f"no model with id {model_id!r} in the deployment's space", field="asset.id") from None
    except VersionNotFound as exc:
        raise InvalidInput(exc.message, field="asset.rev") from None
    if version is None:
        raise InvalidInput(NoContent("the model has no content yet").message, field="asset.id")
    return version


def _facts(
    session: Session, actor: Actor, store: ArtifactStore, described: Described, candidate: ModelVersion
) -> ReplacementFacts:
    """Everything the checks read, the candidate's trial included (`trial.py`: load, warm-up, replay)."""
    role = spaces.role_of(session, actor, described.deployment.space_id)
    kept = settings.stored(session, deployment_id=described.deployment.id)
    names = {
        version_id: name
        for version_id, name in session.execute(
            select(Challenger.version_id, Challenger.name)
            .where(Challenger.deployment_id == described.deployment.id)
            .order_by(Challenger.created_at)
        )
    }
    candidate_facts = _model_facts(session, store, candidate, check_artifact=True)
    replayed = None
    if candidate_facts.artifact_intact and candidate.id != described.version.id:
        replay = _replay_input(session, store, described, kept.replay) if kept.replay.enabled else None
        outcome = trial.run(
            store.open_path(candidate.sha256), candidate_facts.framework, candidate_facts.signature, replay
        )
        candidate_facts = dataclasses.replace(
            candidate_facts, loads=outcome.loads, load_error=outcome.load_error, load_seconds=outcome.seconds
        )
        replayed = outcome.replayed
    return ReplacementFacts(
        current=_model_facts(session, store, described.version, check_artifact=False),
        candidate=candidate_facts,
        may_replace=role.allows(Role.EDITOR),
        deployment_state=described.deployment.state,
        retired_fields=retired_fields(session, deployment_id=described.deployment.id).get(
            described.deployment.id, frozenset()
        ),
        settings=kept,
        captured_rows=drift.captured_rows(session, described.deployment.id, described.version.id),
        challengers=tuple(names.values()),
        candidate_challenger=names.get(candidate.id),
        replayed=replayed,
    )


def _replay_input(
    session: Session, store: ArtifactStore, described: Described, replay: settings.Replay
) -> trial.ReplayInput | None:
    """The champion's latest captured rows and its answers to them, for the candidate to replay."""
    signature = Signature.from_dict(described.version.signature)
    rows = recent_rows(
        session,
        store,
        deployment_id=described.deployment.id,
        version_id=described.version.id,
        signature=signature,
        limit=replay.rows,
    )
    if rows is None:
        return None
    classes = tuple(str(c) for c in signature.target.classes)
    return trial.ReplayInput(rows.features, rows.labels, rows.probabilities, classes)


def _model_facts(session: Session, store: ArtifactStore, version: ModelVersion, *, check_artifact: bool) -> ModelFacts:
    model = session.get(RegisteredModel, version.model_id)
    return ModelFacts(
        version_id=version.id,
        model_id=version.model_id,
        number=version.number,
        framework=Framework(version.framework),
        model_type=model.type if model else "",
        signature=Signature.from_dict(version.signature),
        artifact_intact=_intact(store, version.sha256) if check_artifact else True,
        time_series=TimeSeries.from_signature(version.signature),
        segmented_by=version.signature.get("segmented_by"),
        software_spec_id=version.software_spec_id or None,  # the revision's own: it keeps the spec it was made with
    )


def _intact(store: ArtifactStore, sha256: str) -> bool:
    """Re-hash the stored blob: a candidate whose file changed or vanished must not be swapped in."""
    if not store.exists(sha256):
        return False
    try:
        path = store.open_path(sha256)
    except DamagedBlob:  # a bucket's copy that no longer matches: as a changed local file
        return False
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest() == sha256


def retired_fields(session: Session, *, deployment_id: str | None = None) -> dict[str, frozenset[str]]:
    """Per deployment, the features its earlier champions took that the current one does not.

    Read from each deployment's own row (`Deployment.earlier_features`, kept by `lifecycle.promote`
    when a swap commits), so the cost does not grow with the replacements made.
    """
    query = select(Deployment.id, Deployment.earlier_features, ModelVersion.signature).join(
        ModelVersion, ModelVersion.id == Deployment.version_id
    )
    if deployment_id is not None:
        query = query.where(Deployment.id == deployment_id)
    found = {
        d: retired(earlier, {f["name"] for f in signature["features"]})
        for d, earlier, signature in session.execute(query)
        if earlier
    }
    return {d: names for d, names in found.items() if names}


def retired(earlier_features: Iterable[str], current_features: Set[str]) -> frozenset[str]:
    """The features an earlier champion took that the current one (taking `current_features`) does not."""
    return frozenset(name for name in earlier_features if name not in current_features)
