"""/ml/v4/deployments: create, read, list, delete, and score online deployments."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Header, Request, Response

from champion import patch
from champion.api.deps import ActorDep, RunnerDep, SessionDep, StoreDep
from champion.api.wml import render
from champion.api.wml.errors import WMLRoute
from champion.api.wml.schemas import NewDeployment, PageLimit, RollbackRequest
from champion.deployments import service as deployments
from champion.deployments.errors import ServingNameTaken
from champion.deployments.schemas import NewDeployment as DomainNewDeployment
from champion.errors import InvalidInput, NotFound
from champion.replacement import service as replacement
from champion.replacement.checks import ValidationReport
from champion.replacement.types import Reason

router = APIRouter(route_class=WMLRoute)

MODEL_VERSION_HEADER = "Champion-Model-Version"


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _space(space_id: str | None) -> str:
    if not space_id:
        raise InvalidInput("is required", field="space_id")
    return space_id


@router.post("/ml/v4/deployments", status_code=202)
def create_deployment(
    body: NewDeployment,
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    runner: RunnerDep,
    space_id: str | None = None,
) -> dict[str, Any]:
    if (body.online is None) == (body.batch is None):
        raise InvalidInput("give exactly one of 'online' or 'batch'", field="online")
    serving_name = body.serving_name or (
        body.online.parameters.serving_name if body.online and body.online.parameters else None
    )
    rev = int(body.asset.rev) if body.asset.rev is not None else None  # AssetRef checked it is a revision
    new = patch.validated(
        DomainNewDeployment,
        {
            "name": body.name,
            "kind": "online" if body.online is not None else "batch",
            "model_id": body.asset.id,
            "rev": rev,
            "description": body.description,
            "tags": body.tags,
            "custom": body.custom,
            "serving_name": serving_name,
            "hardware_spec": body.hardware_spec,
        },
    )
    # WML's hardware request and batch parameters are kept with the settings (stored and shown, not applied).
    requested = {
        **({"hardware_request": body.hardware_request} if body.hardware_request is not None else {}),
        **({"batch": body.batch} if body.batch else {}),
    }
    described, _ = deployments.create(
        session, actor, space_id=_space(body.space_id or space_id), new=new, settings=requested or None
    )
    runner.wake()
    return render.described(described, _base(request))


@router.get("/ml/v4/deployments")
def list_deployments(
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    space_id: str | None = None,
    asset_id: str | None = None,
    serving_name: str | None = None,
    conflict: bool = False,
    limit: PageLimit = None,
) -> dict[str, Any]:
    if conflict and serving_name is not None:
        # The client asks whether a serving name is free: 409 means taken.
        if not deployments.serving_name_available(session, serving_name):
            raise ServingNameTaken(f"the serving name {serving_name!r} is taken")
        return {"resources": []}
    rows = deployments.list_deployments(
        session, actor, space_id=_space(space_id), model_id=asset_id, serving_name=serving_name
    )
    base = _base(request)
    return render.page([render.described(d, base) for d in rows], limit=limit)


@router.get("/ml/v4/deployments/{deployment_id}")
def get_deployment(
    deployment_id: str, request: Request, session: SessionDep, actor: ActorDep, space_id: str | None = None
) -> Response:
    described = deployments.get(session, actor, deployment_id=deployment_id, space_id=space_id)
    return _with_etag(described, request)


@router.patch("/ml/v4/deployments/{deployment_id}")
def patch_deployment(
    deployment_id: str,
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    store: StoreDep,
    runner: RunnerDep,
    space_id: str | None = None,
    reason: Reason = Reason.OTHER,
    if_match: Annotated[str | None, Header()] = None,
    body: Any = Body(),
) -> Response:
    # `reason` is champion's addition to the WML route: why the asset is replaced (DataRobot's enum).
    patched = replacement.apply_patch(
        session,
        actor,
        store,
        deployment_id=deployment_id,
        operations_body=body,
        space_id=space_id,
        expected_etag=expected_etag(if_match),
        reason=reason,
    )
    if patched.replacement is None:
        return _with_etag(patched.described, request)
    runner.wake()
    return _with_etag(patched.described, request, status=202, report=patched.replacement.report)


def expected_etag(if_match: str | None) -> str | None:
    """The tag an `If-Match` header asks for: None for none or `*` (any), a weak tag compared as strong."""
    if if_match is None or if_match.strip() == "*":
        return None
    return if_match.strip().removeprefix("W/")


def _with_etag(
    described: deployments.Described, request: Request, *, status: int = 200, report: ValidationReport | None = None
) -> Response:
    body = render.described(described, _base(request))
    if report is not None:
        render.add_validation(body, report)
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/json", headers={"ETag": described.etag}
    )


@router.get("/ml/v4/deployments/{deployment_id}/replacements")
def list_replacements(deployment_id: str, session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    """champion's extension: the history of this deployment's champions, newest first."""
    records = replacement.history(session, actor, deployment_id=deployment_id)
    return render.page([render.replacement(entry) for entry in records])


@router.post("/ml/v4/deployments/{deployment_id}/rollback", status_code=202)
def roll_back(
    deployment_id: str,
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    store: StoreDep,
    runner: RunnerDep,
    body: RollbackRequest | None = None,
) -> Response:
    """champion's extension: return to an earlier champion, through the same checks and swap.

    The body may name where to: `replacement_id` (the model before that replacement) or `asset`
    (`{"id"?, "rev"}`, a revision that served before); neither means before the last change.
    """
    body = body or RollbackRequest()
    started = replacement.rollback(
        session, actor, store, deployment_id=deployment_id, reason=body.reason, to=rollback_to(body)
    )
    runner.wake()
    return _with_etag(started.described, request, status=202, report=started.report)


def rollback_to(body: RollbackRequest) -> replacement.RollbackTo:
    if body.replacement_id is not None and body.asset is not None:
        raise InvalidInput("give at most one of 'replacement_id' or 'asset'", field="asset")
    if body.replacement_id is not None:
        return replacement.BeforeReplacement(body.replacement_id)
    if body.asset is not None:
        return replacement.EarlierRevision(rev=int(body.asset.rev), model_id=body.asset.id)
    return None


@router.delete("/ml/v4/deployments/{deployment_id}", status_code=204)
def delete_deployment(
    deployment_id: str, session: SessionDep, actor: ActorDep, space_id: str | None = None
) -> Response:
    deployments.delete(session, actor, deployment_id=deployment_id, space_id=space_id)
    return Response(status_code=204)


@router.get("/wx/v1/prompts/{prompt_id}")
@router.get("/wx/v1-beta/prompts/{prompt_id}")
def prompt_template(prompt_id: str, actor: ActorDep) -> None:
    # champion serves models, not prompt templates; the WML client probes this before deploying.
    raise NotFound(f"no prompt template with id {prompt_id!r}")
