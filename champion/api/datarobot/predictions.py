"""DataRobot's real-time prediction API: `POST /predApi/v1.0/deployments/{id}/predictions` (and its /api/v2 twin).

Like the WML face's scoring route, these are plain Starlette routes: no FastAPI dependency
resolution on the prediction path. They authenticate from memory (`authenticate_from_memory`),
resolve the deployment with the shared scoring rules (`deployments.scoring`: a non-member gets 404,
any member — viewers too — may predict, as on the WML face), read the body (`predict_input`; the
common body straight into the model's matrix, `quick_input`), ask the engine, and answer in
DataRobot's JSON or, with `Accept: text/csv`, its CSV (`predict_output`).

Decisions worth knowing:

- `datarobot-key` is accepted and ignored. On DataRobot's shared prediction servers it routes a
  request to its organisation; a champion server holds its deployments itself and the
  `Authorization` key (`Token` or `Bearer`) is the only credential, so there is nothing to check.
- Columns the model does not take are ignored, unless `passthroughColumns` (repeated) or
  `passthroughColumnsSet=all` asks for them back: then they are echoed as `passthroughValues`
  in JSON and as leading columns in CSV, as DataRobot does. Naming a column the input lacks is a 400.
- `maxExplanations` other than 0 is refused (400): champion computes no prediction explanations,
  and answering without them would look like an explanation-free model. The explanation and time
  series parameters that only matter with explanations or time series models are ignored.
- A deployment that cannot answer yet is a 409 (the shared rule), not a 503: datarobot-predict
  retries 503 ten times, and a deployment still loading or inactive is not a blip. A 503 (a full
  queue) carries `Retry-After`.
- A request may hold up to `max_rows_per_request` rows (413 past it); the model answers them in
  batch-sized chunks, so a 100,000-row CSV is scored, not refused as a full queue.

`hot_routes` are mounted ahead of every router in `app.py`, as the WML face's scoring route is, so
they skip FastAPI's route matching too.

Every response for a known deployment carries `Champion-Model-Version: <model id>:<rev>`: on
success the version that answered, on a refused input the champion whose signature refused it.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy.typing as npt
from starlette.datastructures import QueryParams
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from champion.api import humility
from champion.api.datarobot import predict_input, predict_output, quick_input
from champion.api.datarobot.errors import error_response, render_error
from champion.api.datarobot.predict_input import UnsupportedMedia
from champion.api.deps import authenticate_from_memory
from champion.context import ServerContext
from champion.deployments import scoring
from champion.errors import ChampionError, Unavailable
from champion.serving import inputs
from champion.serving.engine import DeploymentView, ServingEngine, VersionRef
from champion.spaces.access import AccessCache

logger = logging.getLogger(__name__)

MODEL_VERSION_HEADER = "Champion-Model-Version"
CSV = "text/csv; charset=utf-8"
RETRY_AFTER_SECONDS = "1"
NO_QUERY = QueryParams()


async def predict(request: Request) -> Response:
    state = request.app.state
    context: ServerContext = state.context
    engine: ServingEngine = state.engine
    access: AccessCache = state.access
    view: DeploymentView | None = None
    try:
        actor = await authenticate_from_memory(context, access, predict_input.header(request, b"authorization"))
        view = scoring.resolve(engine, access, actor, request.path_params["deployment_id"])
        with scoring.reading(engine, view):
            # No query string, nothing to parse or check (datarobot-predict sends one; most other callers do not).
            query = NO_QUERY
            if request.scope["query_string"]:
                query = request.query_params
                predict_input.check_explanations(query)
            content = await predict_input.read_content(request, limit=context.settings.max_request_bytes)
            rows, association_ids, passthrough = _parse(view, query, content, context.settings.max_rows_per_request)
            del content  # not held while the prediction is awaited (see the WML route)
        started = time.perf_counter()
        try:
            answer = await scoring.predict(engine, view, rows, association_ids=association_ids)
        except ChampionError:
            raise
        except Exception as exc:
            # The model failed on rows that passed every input check: a server error, still in
            # DataRobot's shape so its clients show the message rather than fail to parse it.
            logger.exception("deployment %s: the model failed to predict", view.id)
            message = f"the model failed to predict: {type(exc).__name__}: {exc}"
            return _stamped(error_response(500, message), view.champion)
        elapsed = time.perf_counter() - started
    except ChampionError as error:
        response = render_error(error)
        if isinstance(error, UnsupportedMedia):
            response.status_code = 415
        if isinstance(error, Unavailable):
            response.headers["Retry-After"] = RETRY_AFTER_SECONDS
        return _stamped(response, view.champion if view is not None else None)
    except ClientDisconnect:
        # The caller went away mid-body: nobody is left to answer, and it is no server error.
        return Response(status_code=499)
    served = answer.version
    headers = {
        MODEL_VERSION_HEADER: served.name,
        # DataRobot's own: the time spent predicting, and whether the model was already in memory
        # (always, here: a deployment answers only once its champion is loaded).
        "X-DataRobot-Execution-Time": str(round(elapsed * 1000)),
        "X-DataRobot-Model-Cache-Hit": "true",
    }
    if answer.humility is not None:
        headers.update(humility.headers((answer,)))
    signature = served.signature
    if wants_csv(predict_input.header(request, b"accept")):
        return Response(predict_output.as_csv(signature, answer.prediction, passthrough), 200, headers, CSV)
    return Response(predict_output.as_json(signature, answer.prediction, passthrough), 200, headers, "application/json")


def _parse(
    view: DeploymentView, query: QueryParams, content: predict_input.Content, max_rows: int
) -> tuple[npt.NDArray[Any], list[str] | None, predict_output.Passthrough]:
    """The model's matrix, the rows' association ids and the columns to echo.

    The common body, when nothing but the matrix is wanted from it, is read the quick way
    (`quick_input`), which gives the same matrix or declines; everything else goes through the table.
    """
    signature = view.champion.signature
    if not predict_input.asks_passthrough(query) and scoring.association_column(view) is None:
        rows = quick_input.matrix(signature, content, max_rows=max_rows)
        if rows is not None:
            return rows, None, predict_output.NO_PASSTHROUGH
    table = predict_input.table(content)
    inputs.check_row_count(table.rows, limit=max_rows, field=None)
    echoed = predict_input.passthrough_names(query, table)
    rows = predict_input.matrix(signature, table)
    passthrough = predict_output.Passthrough(echoed, tuple(table.column(name) for name in echoed))
    return rows, _association_ids(view, table), passthrough


def _association_ids(view: DeploymentView, table: predict_input.Table) -> list[str] | None:
    name = scoring.association_column(view)
    if name is None:
        return None
    column = table.column(name) if name in table.names else None
    return scoring.association_ids(view, column, rows=table.rows, field=name)


def wants_csv(accept: str | None) -> bool:
    """CSV when `text/csv` comes before any JSON type in Accept; JSON otherwise (also for */*)."""
    if not accept or "csv" not in accept:
        return False
    for item in accept.split(","):
        media = item.split(";", 1)[0].strip().lower()
        if media == "text/csv":
            return True
        if media in ("application/json", "*/*", "application/*"):
            return False
    return False


def _stamped(response: Response, version: VersionRef | None) -> Response:
    if version is not None:
        response.headers[MODEL_VERSION_HEADER] = version.name
    return response


# predApi paths have no trailing slash (datarobot-predict builds them so); /api/v2 paths usually
# do, so that twin answers both ways rather than redirecting a POST.
PATHS = (
    "/predApi/v1.0/deployments/{deployment_id}/predictions",
    "/api/v2/deployments/{deployment_id}/predictions",
    "/api/v2/deployments/{deployment_id}/predictions/",
)
hot_routes = [Route(path, predict, methods=["POST"]) for path in PATHS]
