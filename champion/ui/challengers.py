"""The Monitoring page's challengers: the side-by-side table, and the actions an editor takes on it.

Every figure is the latest replay's, as `champion.challengers.service` stored it; this module lays
each challenger beside the champion and offers editors the actions: add a challenger (any model
revision of the space: the service tries it before keeping it), replay now, remove, and replace with
a challenger. The last is no route here: it opens the Replace asset dialog (`replace.py`) on the
challenger's model and revision, so a promotion goes through the usual checks and two-phase swap and
is recorded like any replacement.

After each action the browser goes back to the page with a query naming what was done (the new
challenger, the removed one, the replay started). Besides showing it, that makes every answer's
address differ from the page's: an address that differed only in `#challengers` would only scroll
the page, not load it again. While a replay runs the page asks after it (`replay_status`, polled by
ui.js) and loads again once it has ended.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from champion.api.deps import RunnerDep, SessionDep, StoreDep
from champion.api.status import status_of
from champion.artifacts import ArtifactStore
from champion.challengers import service as challengers
from champion.challengers.errors import ReplayNotFound
from champion.challengers.service import MAX_CHALLENGERS, Compared
from champion.challengers.tables import ChallengerReplay
from champion.deployments import service as deployments
from champion.deployments.service import Described
from champion.errors import ChampionError, NotFound
from champion.models import service as models
from champion.models.tables import ModelVersion, RegisteredModel
from champion.operations.types import OperationState
from champion.runtimes import Signature, TargetType
from champion.ui import views
from champion.ui.render import UIRoute, error_page, field_errors, go, page, templates
from champion.ui.session import ChangingSession, UISession, ViewerSession
from champion.users.service import Actor

router = APIRouter(route_class=UIRoute)

FIELDS = ("version_id", "name")
"""The Add challenger form's fields, named as the service names them in its errors."""
FAILED_PREFIX = "the replay failed: "
"""How the replay handler opens a failure's message; the page's own "Replay failed:" says it already."""


def page_url(deployment_id: str, **query: str) -> str:
    """The Monitoring page at its challengers, with what was just done in the query."""
    return f"/ui/deployments/{deployment_id}/monitoring?{urlencode(query)}#challengers"


@dataclass(frozen=True)
class Watched:
    """A replay someone asked for, as its operation stands."""

    operation_id: str
    running: bool
    succeeded: bool
    message: str


def watched_replay(session: Session, actor: Actor, deployment_id: str, operation_id: str) -> Watched:
    """The replay `operation_id` of this deployment; ReplayNotFound for any other operation."""
    operation = challengers.replay_operation(session, actor, deployment_id=deployment_id, operation_id=operation_id)
    state = OperationState(operation.state)
    return Watched(
        operation_id=operation.id,
        running=not state.terminal,
        succeeded=state is OperationState.SUCCEEDED,
        message=operation.message.removeprefix(FAILED_PREFIX),
    )


@dataclass(frozen=True)
class Row:
    """One challenger beside the champion."""

    compared: Compared
    model_name: str
    serving: bool
    """Its model is the deployment's champion now (it was promoted since it was added)."""
    added: bool
    """It is the one just added."""

    @property
    def asset(self) -> str:
        """What the Replace asset dialog calls this model: `<model id>:<rev>`."""
        return f"{self.compared.version.model_id}:{self.compared.version.number}"


@dataclass(frozen=True)
class ChallengersView:
    deployment_id: str
    champion: ModelVersion
    champion_name: str
    regression: bool
    metric: str
    """The accuracy figure in the table (all of `metrics` are under it)."""
    metrics: tuple[str, ...]
    rows: list[Row]
    may_edit: bool
    last_replay: ChallengerReplay | None
    """The replay the figures come from (None before any that found captured rows)."""
    earlier_reference: str | None
    """The model the figures compare with, when it is no longer the champion ("churn — revision 1"):
    the deployment was replaced since the last replay."""
    watched: Watched | None
    removed: bool
    most: int = MAX_CHALLENGERS

    @property
    def compared_rows(self) -> list[Row]:
        """The challengers the last replay has figures for."""
        return [row for row in self.rows if row.compared.result is not None]


def section(
    session: Session,
    actor: Actor,
    described: Described,
    *,
    metrics: tuple[str, ...],
    replay: str | None = None,
    added: str | None = None,
    removed: str | None = None,
) -> ChallengersView:
    """What the section shows; `replay`, `added` and `removed` are what the page's query names."""
    d = described.deployment
    # The watched replay is read before the figures: a replay ending between the two reads is then
    # shown running (ui.js reloads the page) rather than finished beside no figures. Its state and
    # its figures are one commit, so "finished" read first means the figures are there.
    watched = None
    if replay:
        try:
            watched = watched_replay(session, actor, d.id, replay)
        except ReplayNotFound:
            watched = None  # an old or mistyped link: the page without it
    listed = challengers.listed(session, actor, deployment_id=d.id)
    names = _model_names(session, actor, [d.model_id, *(c.version.model_id for c in listed)])
    last_replay = next((c.replay for c in listed if c.replay is not None), None)
    earlier = None
    if last_replay is not None and last_replay.champion_version_id != described.version.id:
        earlier = _label(session, actor, d.space_id, last_replay.champion_version_id) or "an earlier model"
    return ChallengersView(
        deployment_id=d.id,
        champion=described.version,
        champion_name=names[d.model_id],
        regression=Signature.from_dict(described.version.signature).target.type is TargetType.REGRESSION,
        metric=metrics[0],
        metrics=metrics,
        rows=[
            Row(c, names[c.version.model_id], c.version.id == described.version.id, c.challenger.id == added)
            for c in listed
        ],
        may_edit=views.permissions(session, actor, d.space_id).may_edit,
        last_replay=last_replay,
        earlier_reference=earlier,
        watched=watched,
        removed=bool(removed),
    )


def _label(session: Session, actor: Actor, space_id: str, version_id: str) -> str | None:
    """A model revision as the page names it ("churn — revision 1"); None when it is gone."""
    for model, versions in _revisions(session, actor, space_id):
        for version in versions:
            if version.id == version_id:
                return f"{model.name} — revision {version.number}"
    return None


def _model_names(session: Session, actor: Actor, model_ids: list[str]) -> dict[str, str]:
    return {model_id: models.get_model(session, actor, model_id=model_id).name for model_id in set(model_ids)}


def share(value: float | None) -> str:
    """A share as a percentage with one decimal, or a dash when there is none."""
    return "—" if value is None or not math.isfinite(value) else f"{value:.1%}"


templates.env.filters["share"] = share


# ---- Add challenger --------------------------------------------------------------------------------


def _revisions(session: Session, actor: Actor, space_id: str) -> list[tuple[RegisteredModel, list[ModelVersion]]]:
    """Every model revision of the space, by model (as the Replace asset dialog lists them)."""
    return [
        (model, models.list_versions(session, actor, model_id=model.id))
        for model in models.list_models(session, actor, space_id=space_id)
    ]


def dialog_context(
    session: Session,
    ui: UISession,
    deployment_id: str,
    *,
    selected: str | None = None,
    name: str = "",
    errors: dict[str, str] | None = None,
) -> dict[str, Any]:
    described = deployments.get(session, ui.actor, deployment_id=deployment_id)
    d = described.deployment
    revisions = _revisions(session, ui.actor, d.space_id)
    taken = {c.version.id for c in challengers.listed(session, ui.actor, deployment_id=d.id)}
    if selected is None:
        # The newest free revision, of the champion's own model first: the likeliest retrain.
        free = [
            v
            for model, versions in sorted(revisions, key=lambda found: found[0].id != d.model_id)
            for v in reversed(versions)
            if v.id != described.version.id and v.id not in taken
        ]
        selected = free[0].id if free else ""
    return {
        "ui": ui,
        "d": d,
        "champion": described.version,
        "revisions": revisions,
        "taken": taken,
        "selected": selected,
        "name": name,
        "errors": errors or {},
        "most": MAX_CHALLENGERS,
    }


@router.get("/ui/deployments/{deployment_id}/challengers/add", response_class=HTMLResponse)
def add_dialog(deployment_id: str, request: Request, ui: ViewerSession, session: SessionDep) -> Response:
    return page(request, "_challenger_dialog.html", dialog_context(session, ui, deployment_id))


@router.post("/ui/deployments/{deployment_id}/challengers", response_class=HTMLResponse)
async def add(
    deployment_id: str, request: Request, ui: ChangingSession, session: SessionDep, store: StoreDep
) -> Response:
    form = await request.form()
    version_id, name = str(form.get("version_id", "")), str(form.get("name", ""))
    # Adding tries the model in a child process first: off the event loop.
    return await run_in_threadpool(_add, request, ui, session, store, deployment_id, version_id, name)


def _add(
    request: Request,
    ui: UISession,
    session: Session,
    store: ArtifactStore,
    deployment_id: str,
    version_id: str,
    name: str,
) -> Response:
    try:
        space_id = deployments.get(session, ui.actor, deployment_id=deployment_id).deployment.space_id
        added = challengers.add(
            session,
            ui.actor,
            store,
            deployment_id=deployment_id,
            version_id=version_id,
            name=name.strip() or _default_name(session, ui.actor, space_id, version_id),
        )
    except NotFound:
        raise
    except ChampionError as error:
        context = dialog_context(
            session, ui, deployment_id, selected=version_id, name=name, errors=field_errors(error, FIELDS)
        )
        return page(request, "_challenger_dialog.html", context, status=status_of(error))
    return go(request, page_url(deployment_id, challenger=added.id))


def _default_name(session: Session, actor: Actor, space_id: str, version_id: str) -> str | None:
    """A challenger named after its model and revision ("churn revision 2"); None leaves the name to
    the service (a version not of this space, which it refuses anyway)."""
    label = _label(session, actor, space_id, version_id)
    return label.replace(" — ", " ") if label is not None else None


# ---- Replay now, and its live status -------------------------------------------------------------


@router.post("/ui/deployments/{deployment_id}/challengers/replay", response_class=HTMLResponse)
async def replay(
    deployment_id: str, request: Request, ui: ChangingSession, session: SessionDep, runner: RunnerDep
) -> Response:
    try:
        _, operation = await run_in_threadpool(challengers.start_replay, session, ui.actor, deployment_id=deployment_id)
    except NotFound:
        raise
    except ChampionError as error:
        return error_page(request, status_of(error), "Cannot replay", error.message)
    runner.wake()
    return go(request, page_url(deployment_id, replay=operation.id))


@router.get("/ui/deployments/{deployment_id}/challengers/replays/{operation_id}", response_class=HTMLResponse)
def replay_status(
    deployment_id: str, operation_id: str, request: Request, ui: ViewerSession, session: SessionDep
) -> Response:
    """While the replay runs, its status (the fragment the page shows); once it ended, the page again."""
    watched = watched_replay(session, ui.actor, deployment_id, operation_id)
    if watched.running:
        return page(request, "_replay_status.html", {"deployment_id": deployment_id, "watched": watched})
    return go(request, page_url(deployment_id, replay=operation_id))


# ---- Remove --------------------------------------------------------------------------------------


@router.get("/ui/deployments/{deployment_id}/challengers/{challenger_id}/remove", response_class=HTMLResponse)
def remove_dialog(
    deployment_id: str, challenger_id: str, request: Request, ui: ViewerSession, session: SessionDep
) -> Response:
    found = challengers.get(session, ui.actor, deployment_id=deployment_id, challenger_id=challenger_id)
    context = {
        "ui": ui,
        "action": f"/ui/deployments/{deployment_id}/challengers/{challenger_id}/remove",
        "title": f"Remove {found.challenger.name}?",
        "text": "The challenger and its replay figures are removed. Its model stays in the space, "
        "and the deployment serves as before.",
        "confirm": "Remove",
        "danger": True,
        "errors": {},
    }
    return page(request, "_confirm_dialog.html", context)


@router.post("/ui/deployments/{deployment_id}/challengers/{challenger_id}/remove", response_class=HTMLResponse)
def remove(
    deployment_id: str, challenger_id: str, request: Request, ui: ChangingSession, session: SessionDep
) -> Response:
    challengers.remove(session, ui.actor, deployment_id=deployment_id, challenger_id=challenger_id)
    return go(request, page_url(deployment_id, removed=challenger_id))
