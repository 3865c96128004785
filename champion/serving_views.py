"""The serving engine's views of the deployments, rebuilt only for the deployments that changed.

Each view is compiled from a deployment's row, its champion's and candidate's signatures and its
settings (humility rules, prediction capture, retired fields). Rebuilding every view on every change
made each change cost as much as all deployments together; a view is now kept with the mark it was
built from (`deployments.service.serving_marks`) and rebuilt only when that deployment's mark moves.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from champion.deployments import lifecycle, settings
from champion.deployments import service as deployments
from champion.deployments.rollout import version_ref
from champion.deployments.types import State
from champion.monitoring.capture import CapturePolicy
from champion.replacement import service as replacement
from champion.serving import humility
from champion.serving.engine import DeploymentView


@dataclass(frozen=True)
class _Built:
    view: DeploymentView
    lost: bool
    """Failed because its champion, served before, can no longer be loaded."""
    mark: deployments.Mark


class ServingViews:
    """One process's views of every deployment, kept between reads (used from one thread at a time)."""

    def __init__(self) -> None:
        self._built: dict[str, _Built] = {}
        self.rebuilt = 0
        """How many views the last `read` built; the others were kept as they were."""

    def read(self, session: Session) -> tuple[list[DeploymentView], frozenset[str]]:
        """Every deployment's view, and the ids of those failed because their served champion is lost."""
        marks = deployments.serving_marks(session)
        stale = [d for d, mark in marks.items() if d not in self._built or self._built[d].mark != mark]
        built = {d: b for d, b in self._built.items() if d in marks and d not in stale}
        if stale:
            # A row may move between the two reads: the mark kept is the one of the row read, so a
            # view is never kept with a mark newer than what it was built from.
            for served in deployments.serving_snapshot(session, ids=None if len(stale) == len(marks) else stale):
                built[served.described.deployment.id] = _build(served)
        self._built, self.rebuilt = built, len(stale)
        return [b.view for b in built.values()], frozenset(d for d, b in built.items() if b.lost)


def _build(served: deployments.Served) -> _Built:
    row, kept = served.described.deployment, served.described.settings
    champion = version_ref(served.described.version)
    candidate = served.described.candidate
    rules = kept.humility if kept.humility.enabled and kept.humility.rules else None
    current = {feature.name for feature in champion.signature.features}
    view = DeploymentView(
        id=row.id,
        space_id=row.space_id,
        name=row.name,
        kind=row.kind,
        state=row.state,
        serving_name=row.serving_name,
        champion=champion,
        # An initializing deployment is loaded everywhere too: its deploy operation
        # reports ready once every process holds it.
        serves=row.state in (State.INITIALIZING, State.READY, State.UPDATING),
        dropped=row.state == State.FAILED,
        retired_fields=replacement.retired(row.earlier_features, current) | _association_column(kept),
        candidate=version_ref(candidate) if candidate else None,
        # Compiled here, once per change of this deployment: features resolved to matrix columns.
        humility=humility.compiled(rules.rules, champion.signature) if rules else None,
        capture=_capture_policy(kept),
        settings_digest=settings.digest(kept),
        compiled=kept.compiled.enabled,
    )
    lost = row.state == State.FAILED and (row.failure or [{}])[0].get("code") == lifecycle.MODEL_UNAVAILABLE
    return _Built(view=view, lost=lost, mark=served.mark)


def _association_column(kept: settings.DeploymentSettings) -> frozenset[str]:
    """The association id column is accepted in requests beside the features, and not given to the model."""
    column = kept.association_id.column
    return frozenset({column}) if column is not None else frozenset()


def _capture_policy(kept: settings.DeploymentSettings) -> CapturePolicy | None:
    collection = kept.predictions_data_collection
    if not collection.enabled:
        return None
    return CapturePolicy(
        sampling=collection.sampling_percent / 100,
        association_column=kept.association_id.column,
        association_required=kept.association_id.required_in_prediction_requests,
    )
