"""The seed's asset patch on a model: `/asset` on a model moves the online deployments that serve it.

The WML document ("Updating an asset using the Patch API command") patches a *model* with
`[{"op": "replace", "path": "/asset", "value": {"id": <the model>, "rev": "1"}}]`, "to patch a model
for an online deployment", and answers with that deployment turning `updating`; "only the asset
attribute can be specified for the asset patch". champion reads it as: every online deployment in
the model's space whose champion is a revision of this model moves to the revision named (the
newest when none is), each through the normal replacement (`service.start_together`: the same
checks and the same swap as a deployment's own `/asset` patch). They all start, or none does.

Moving a model's deployments to another model is each deployment's own asset patch, so the value
must name this model. A deployment already serving the revision is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from champion import patch
from champion.artifacts import ArtifactStore
from champion.deployments import patch as deployment_rules
from champion.deployments.tables import Deployment
from champion.deployments.types import Kind
from champion.errors import Conflict, InvalidInput
from champion.models import service as models
from champion.models.errors import VersionNotFound
from champion.models.tables import ModelVersion, RegisteredModel
from champion.replacement import service as replacement
from champion.replacement.service import Started
from champion.replacement.types import Reason
from champion.spaces import service as spaces
from champion.spaces.types import Role
from champion.users.service import Actor

ASSET_PATH = "/asset"
SETTING_OPS = ("replace", "add")
"""The operations that set the asset: the WML client writes `add` when its copy of the document lacks one."""


class NotDeployed(Conflict):
    """The asset patch of a model that no online deployment serves: there is nothing to move."""


@dataclass(frozen=True)
class ModelPatched:
    """What a model patch did: the model (its metadata patched, or unchanged), and for an `/asset` patch
    the replacements it started, one per deployment moved (None for a metadata patch)."""

    model: RegisteredModel
    moved: list[Started] | None


def apply_model_patch(
    session: Session,
    actor: Actor,
    store: ArtifactStore,
    *,
    model_id: str,
    operations_body: Any,
    space_id: str | None = None,
    reason: Reason = Reason.OTHER,
) -> ModelPatched:
    """A JSON Patch on a model: `/asset` moves the deployments that serve it, anything else edits metadata."""
    model = models.get_model(session, actor, model_id=model_id, space_id=space_id)
    operations = patch.parse_operations(operations_body)
    if not deployment_rules.touches(operations, ASSET_PATH):
        return ModelPatched(models.update_model(session, actor, model_id=model_id, operations=operations_body), None)
    spaces.require(session, actor, model.space_id, Role.EDITOR)
    target = _target(session, actor, model, operations)
    moving = [d.id for d in serving(session, model=model) if d.version_id != target.id]
    started = replacement.start_together(
        session, actor, store, deployment_ids=moving, model_id=model.id, rev=target.number, reason=reason
    )
    return ModelPatched(model, started)


def serving(session: Session, *, model: RegisteredModel) -> list[Deployment]:
    """The online deployments whose champion is a revision of `model`, oldest first; NotDeployed if none.

    A deployment's model is its champion's (a replacement moves both), so a deployment moved to
    another model no longer counts, and one moved here does.
    """
    found = list(
        session.scalars(
            select(Deployment)
            .where(
                Deployment.model_id == model.id,
                Deployment.space_id == model.space_id,
                Deployment.kind == Kind.ONLINE.value,
            )
            .order_by(Deployment.created_at, Deployment.id)
        )
    )
    if not found:
        raise NotDeployed("no online deployment serves this model: deploy it before patching its asset")
    return found


def _target(session: Session, actor: Actor, model: RegisteredModel, operations: list[dict[str, Any]]) -> ModelVersion:
    """The revision an asset patch names, after the seed's rule: the asset, alone, set whole."""
    for index, operation in enumerate(operations):
        if operation["path"] != ASSET_PATH:
            problem = (
                "set the whole /asset: {id, rev}"
                if operation["path"].startswith(ASSET_PATH + "/")
                else "/asset must be the only path in its patch: patch the model's other details on their own"
            )
            raise InvalidInput(problem, field=f"[{index}].path")
        if operation["op"] not in SETTING_OPS:
            raise InvalidInput("the asset can only be set, with 'replace' (or 'add')", field=f"[{index}].op")
    if len(operations) > 1:
        raise InvalidInput("set /asset once per patch", field="[1].path")
    value = operations[0]["value"]
    if not isinstance(value, dict):
        raise InvalidInput("must be an object: {id, rev}", field="[0].value")
    asset = patch.validated(deployment_rules.Asset, value, prefix="[0].value.")
    if asset.id != model.id:
        raise InvalidInput(
            "must be this model: its asset patch moves its deployments to another of its revisions "
            "(patch a deployment's own /asset to deploy another model)",
            field="[0].value.id",
        )
    if asset.rev is None:
        newest = models.latest_version(session, model_id=model.id)
        if newest is None:
            raise InvalidInput("the model has no content yet: upload it first", field="[0].value")
        return newest
    try:
        return models.get_version(session, actor, model_id=model.id, number=int(asset.rev))
    except VersionNotFound as exc:
        raise InvalidInput(exc.message, field="[0].value.rev") from None
