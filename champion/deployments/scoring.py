"""The rules of online scoring: who may score which deployment, and when it can answer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np

from champion.deployments.errors import DeploymentNotFound, NotReady, VersionNotServed
from champion.deployments.types import Kind, State
from champion.errors import InvalidInput, Unavailable
from champion.meters import ErrorKind
from champion.monitoring import capture
from champion.serving.engine import Answer, DeploymentView, ServingEngine, VersionRef
from champion.serving.humility import HumilityRefused
from champion.spaces.access import AccessCache
from champion.users.service import Actor

ANSWERING = (State.READY, State.UPDATING)

SETTINGS_WAIT_SECONDS = 2.0


def acts_on(engine: ServingEngine, deployment_id: str, settings_digest: str) -> bool:
    """Whether this process's engine acts on the deployment's settings with this digest (`settings.digest`):
    a settings change is answered only then, so a prediction sent next meets it (an association id set is
    captured). A deployment the engine does not know has nothing to act on."""
    view = engine.resolve(deployment_id)
    return view is None or view.settings_digest == settings_digest


async def until_acting_on(
    engine: ServingEngine, deployment_id: str, settings_digest: str, *, timeout: float = SETTINGS_WAIT_SECONDS
) -> bool:
    """Wait, at most `timeout` seconds (the follower takes a change up within a tick), until `acts_on`."""
    deadline = time.monotonic() + timeout
    while not acts_on(engine, deployment_id, settings_digest):
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.02)
    return True


def visible(engine: ServingEngine, access: AccessCache, actor: Actor, key: str) -> DeploymentView:
    """The online deployment `key` names (id or serving name), if the caller may see it, ready or not."""
    view = engine.resolve(key)
    if view is None or access.role(actor, view.space_id) is None:
        # Not counted: the key is whatever a caller typed, and would make a label of it.
        raise DeploymentNotFound(f"no deployment with id {key!r}")
    if view.kind != Kind.ONLINE:
        engine.metrics.failed(view.id, ErrorKind.INVALID_INPUT)
        raise InvalidInput("this is a batch deployment: score it with a deployment job", field="deployment_id")
    return view


def answering(engine: ServingEngine, view: DeploymentView) -> bool:
    """Whether the deployment can answer predictions in this process now."""
    return _may_answer(engine, view) and engine.serving(view.id) is not None


def _may_answer(engine: ServingEngine, view: DeploymentView) -> bool:
    # A deployment turns ready once every process serves its champion; a process whose view
    # still says `initializing` for a moment after that, but holds the champion, may answer.
    return view.state in ANSWERING or (view.state == State.INITIALIZING and engine.serving(view.id) == view.champion)


def resolve(engine: ServingEngine, access: AccessCache, actor: Actor, key: str) -> DeploymentView:
    """The deployment `key` names (id or serving name), if the caller may score it now.

    Reads only memory: this runs on every prediction.
    """
    view = visible(engine, access, actor, key)
    if not _may_answer(engine, view):
        engine.metrics.failed(view.id, ErrorKind.NOT_READY)
        if view.state == State.INACTIVE:
            raise NotReady("the deployment is inactive: activate it to answer predictions again")
        raise NotReady(f"the deployment is {view.state}, not ready: it cannot answer predictions yet")
    return view


def require_version(view: DeploymentView, served: VersionRef, wanted: str) -> None:
    """Refuses an answer from a model version other than the one the request named.

    A deployment serves one version at a time. Checked before the prediction (against the view's
    champion) and after it (against the version that answered: a swap may fall in between), so a
    request pinned to a version is never answered by another.
    """
    if served.name != wanted:
        raise VersionNotServed(
            f"deployment {view.id!r} does not serve model version {wanted!r}: it serves {served.name!r}"
        )


@contextmanager
def reading(engine: ServingEngine, view: DeploymentView) -> Iterator[None]:
    """Wraps a face's parsing of a scoring request, so a bad one is counted against the deployment."""
    try:
        yield
    except InvalidInput:
        engine.metrics.failed(view.id, ErrorKind.INVALID_INPUT)
        raise


async def predict(
    engine: ServingEngine, view: DeploymentView, rows: np.ndarray, *, association_ids: Sequence[str] | None = None
) -> Answer:
    """The answer for `rows`, counted and timed (queueing included) under the version that gave it,
    and offered to prediction capture (`monitoring/capture.py`) when the deployment captures.

    The engine has applied the deployment's humility rules (`serving/humility.py`); a
    throw_error rule's refusal is counted as `refused`.
    """
    started = time.perf_counter()
    try:
        answer = await engine.predict(view.id, rows)
    except Exception as exc:
        engine.metrics.failed(view.id, _kind(exc))
        raise
    served, elapsed = answer.version, time.perf_counter() - started
    engine.metrics.answered(view.id, served.name, len(rows), elapsed)
    if view.capture is not None:
        engine.capture.offer(
            view.capture,
            deployment_id=view.id,
            version_id=served.version_id,
            signature=served.signature,
            rows=rows,
            prediction=answer.prediction,
            association_ids=association_ids,
            latency=elapsed,
        )
    return answer


def association_ids(
    view: DeploymentView, column: Sequence[object] | None, *, rows: int, field: str
) -> list[str] | None:
    """The association ids of a request's rows from its values of the deployment's association id column
    (None when the request lacks the column); refused when the deployment requires them."""
    return capture.association_ids(view.capture, column, rows=rows, field=field)


def association_column(view: DeploymentView) -> str | None:
    return view.capture.association_column if view.capture is not None else None


def _kind(error: Exception) -> ErrorKind:
    if isinstance(error, HumilityRefused):
        return ErrorKind.REFUSED
    if isinstance(error, InvalidInput):
        return ErrorKind.INVALID_INPUT
    if isinstance(error, Unavailable):
        return ErrorKind.UNAVAILABLE
    return ErrorKind.MODEL_ERROR
