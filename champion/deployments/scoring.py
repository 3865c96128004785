"""The rules of online scoring: who may score which deployment, and when it can answer."""

from __future__ import annotations

import numpy as np

from champion.deployments.errors import DeploymentNotFound, NotReady
from champion.deployments.types import Kind, State
from champion.errors import InvalidInput
from champion.serving.engine import Answer, DeploymentView, ServingEngine
from champion.spaces.access import AccessCache
from champion.users.service import Actor

ANSWERING = (State.READY, State.UPDATING)


def resolve(engine: ServingEngine, access: AccessCache, actor: Actor, key: str) -> DeploymentView:
    """The deployment `key` names (id or serving name), if the caller may score it now.

    Reads only memory: this runs on every prediction.
    """
    view = engine.resolve(key)
    if view is None or access.role(actor, view.space_id) is None:
        raise DeploymentNotFound(f"no deployment with id {key!r}")
    if view.kind != Kind.ONLINE:
        raise InvalidInput("this is a batch deployment: score it with a deployment job", field="deployment_id")
    if view.state not in ANSWERING:
        raise NotReady(f"the deployment is {view.state}, not ready: it cannot answer predictions yet")
    return view


async def predict(engine: ServingEngine, view: DeploymentView, rows: np.ndarray) -> Answer:
    return await engine.predict(view.id, rows)
