"""Replaying a deployment's captured traffic through its challengers, and scheduling it.

The operation's handler reads the champion's latest captured rows (`monitoring.recent`), gives them
to each challenger in the trial process (`replacement.trial`: off the serving path, bounded in time
and memory), and stores per challenger what it found against the champion's captured answers:
rows it failed on, agreement, the mean difference of probabilities (or of values), time per row,
and accuracy on the replayed rows that have actuals — the champion's figures on the same rows
beside it. A replay that finds no captured rows succeeds with nothing to compare, and says so.

`ReplayScheduler` runs in every server process: once a minute it asks for a replay of each
deployment whose `challenger_replay` schedule is due. Of several processes only one records it:
a replay of the same scheduled minute is not recorded twice (`begin_replay` refuses while one
runs, and a finished one for that minute is looked for first).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from champion.artifacts import ArtifactStore
from champion.challengers import schedule
from champion.challengers import service as challengers
from champion.challengers.errors import ReplayRunning
from champion.challengers.tables import Challenger, ChallengerReplay, ChallengerResult
from champion.db import utcnow
from champion.deployments import settings
from champion.deployments.tables import Deployment
from champion.models.tables import ModelVersion
from champion.monitoring import accuracy_metrics, files
from champion.monitoring.recent import recent_rows
from champion.monitoring.tables import Actual
from champion.operations import service as operations
from champion.operations.tables import Operation
from champion.operations.types import OperationState
from champion.replacement import trial
from champion.runtimes import Framework, Signature, TargetType

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReplayHandler:
    sessions: sessionmaker[Session]
    store: ArtifactStore

    async def __call__(self, operation: Operation) -> None:
        await asyncio.to_thread(self.run, operation)

    def run(self, operation: Operation) -> None:
        with self.sessions() as session:
            replay = session.scalar(select(ChallengerReplay).where(ChallengerReplay.operation_id == operation.id))
            if replay is None:  # the deployment was deleted with its replays
                operations.finish(session, operation_id=operation.id, state=OperationState.FAILED, message="gone")
                session.commit()
                return
            try:
                message = self._replay(session, replay)
                state = OperationState.SUCCEEDED
            except Exception as exc:
                logger.exception("challenger replay %s failed", replay.id)
                session.rollback()
                message, state = f"the replay failed: {exc}", OperationState.FAILED
            replay.state = "succeeded" if state is OperationState.SUCCEEDED else "failed"
            replay.message, replay.finished_at = message, utcnow()
            operations.finish(session, operation_id=operation.id, state=state, message=message)
            session.commit()

    def _replay(self, session: Session, replay: ChallengerReplay) -> str:
        deployment = session.get(Deployment, replay.deployment_id)
        assert deployment is not None, "a replay is deleted with its deployment"
        champion = Signature.from_dict(_version(session, deployment.version_id).signature)
        rows = recent_rows(
            session,
            self.store,
            deployment_id=deployment.id,
            version_id=deployment.version_id,
            signature=champion,
            limit=challengers.replay_rows(session, deployment_id=deployment.id),
        )
        if rows is None:
            return "no captured predictions of the champion to replay yet"
        classes = tuple(str(c) for c in champion.target.classes)
        given = trial.ReplayInput(rows.features, rows.labels, rows.probabilities, classes)
        actuals = _actuals(session, deployment.id, rows)
        found = session.scalars(select(Challenger).where(Challenger.deployment_id == deployment.id)).all()
        results = []
        for challenger in found:
            if challenger.version_id == deployment.version_id:
                continue  # promoted: it is the champion now
            version = _version(session, challenger.version_id)
            signature = Signature.from_dict(version.signature)
            started = time.monotonic()
            outcome = trial.run(self.store.open_path(version.sha256), Framework(version.framework), signature, given)
            results.append(_result(replay, challenger, outcome, champion, rows, actuals, time.monotonic() - started))
        # Written last: a row flushed earlier would hold SQLite's write lock through every trial.
        session.add_all(results)
        replay.rows = len(rows)
        return f"replayed {len(rows)} captured rows through {len(found)} challengers"


def _result(
    replay: ChallengerReplay,
    challenger: Challenger,
    outcome: trial.TrialOutcome,
    champion: Signature,
    rows: files.Rows,
    actuals: dict[int, Any],
    seconds: float,
) -> ChallengerResult:
    replayed = outcome.replayed
    if not outcome.loads or replayed is None:
        return ChallengerResult(
            replay_id=replay.id,
            challenger_id=challenger.id,
            rows=len(rows),
            failed_rows=len(rows),
            first_error=outcome.load_error or "it could not replay the captured rows",
        )
    regression = champion.target.type is TargetType.REGRESSION
    theirs, ours = _accuracy(champion, rows, replayed.labels, actuals)
    return ChallengerResult(
        replay_id=replay.id,
        challenger_id=challenger.id,
        rows=replayed.rows,
        failed_rows=replayed.failed_rows if not replayed.missing_features else replayed.rows,
        first_error=replayed.first_error
        or (f"the captured rows lack {', '.join(replayed.missing_features)}" if replayed.missing_features else None),
        agreement=None if regression or replayed.disagreement is None else 1 - replayed.disagreement,
        difference=replayed.disagreement if regression else replayed.mean_probability_difference,
        seconds_per_row=seconds / max(replayed.rows, 1),
        actual_rows=len(actuals),
        accuracy=theirs,
        champion_accuracy=ours,
    )


def _actuals(session: Session, deployment_id: str, rows: files.Rows) -> dict[int, Any]:
    """The actual of each replayed row that has one, by row index."""
    ids = {association_id: i for i, association_id in enumerate(rows.association_ids) if association_id is not None}
    if not ids:
        return {}
    found: dict[int, Any] = {}
    chunk = list(ids)
    for start in range(0, len(chunk), 500):
        query = select(Actual.association_id, Actual.value).where(
            Actual.deployment_id == deployment_id, Actual.association_id.in_(chunk[start : start + 500])
        )
        for association_id, value in session.execute(query):
            found[ids[association_id]] = value
    return found


def _accuracy(
    champion: Signature, rows: files.Rows, labels: np.ndarray | None, actuals: dict[int, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the challenger's figures, the champion's) on the replayed rows with actuals the challenger answered."""
    if labels is None or not actuals:
        return {}, {}
    index = [i for i in sorted(actuals) if labels[i] is not None]
    if not index:
        return {}, {}
    if champion.target.type is TargetType.REGRESSION:
        truth = [float(actuals[i]) for i in index]
        challenger = accuracy_metrics.regression(truth, [float(labels[i]) for i in index])
        ours = accuracy_metrics.regression(truth, [float(rows.labels[i]) for i in index])
        return challenger, ours
    classes = [str(c) for c in champion.target.classes]
    truth_labels = [str(actuals[i]) for i in index]
    challenger = accuracy_metrics.classification(truth_labels, [str(labels[i]) for i in index], None, classes)
    probabilities = rows.probabilities[index] if rows.probabilities is not None else None
    ours = accuracy_metrics.classification(truth_labels, [str(rows.labels[i]) for i in index], probabilities, classes)
    return challenger, ours


def _version(session: Session, version_id: str) -> ModelVersion:
    version = session.get(ModelVersion, version_id)
    assert version is not None, "protected by a foreign key"
    return version


SCHEDULER = "scheduler"
"""The `created_by` of a replay the schedule asked for."""


class ReplayScheduler:
    """Once a minute, ask for the replays whose schedule is due (in every process; one records each)."""

    def __init__(self, sessions: sessionmaker[Session], *, interval: float = 60.0) -> None:
        self._sessions = sessions
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.tick)
            except Exception:
                logger.exception("the challenger replay schedule could not be checked")
            await asyncio.sleep(self._interval)

    def tick(self) -> list[str]:
        """Start the replays that are due now; the deployments they were started for."""
        started = []
        with self._sessions() as session:
            now = utcnow()
            for deployment_id, kept in settings.every_stored(session).items():
                replay = kept.challenger_replay
                if not replay.enabled or replay.schedule is None:
                    continue
                due = schedule.latest(replay.schedule, now)
                if due is None or _replayed_for(session, deployment_id, due):
                    continue
                if session.scalar(select(Challenger.id).where(Challenger.deployment_id == deployment_id).limit(1)):
                    try:
                        challengers.begin_replay(session, deployment_id, created_by=SCHEDULER, scheduled_for=due)
                    except (ReplayRunning, IntegrityError):  # running, or another process recorded this minute
                        session.rollback()
                        continue
                    started.append(deployment_id)
        return started


def _replayed_for(session: Session, deployment_id: str, due: Any) -> bool:
    return (
        session.scalar(
            select(ChallengerReplay.id)
            .where(ChallengerReplay.deployment_id == deployment_id, ChallengerReplay.scheduled_for >= due)
            .limit(1)
        )
        is not None
    )
