"""POST /v2/models/{model_name}[/versions/{model_version}]/infer: the Open Inference Protocol's prediction path,
as a plain Starlette route.

It gets the WML scoring route's treatment (`champion/api/wml/scoring.py`), for the same reason:
FastAPI's routing and dependency resolution cost more per request than a small model does. So it
authenticates from memory (invariant 5) with the helper that route uses, reads the body with
orjson, checks it against the protocol's schema and the deployment's signature (the common
layouts by hand, `tensors.feature_matrix`, `plain_rows` and `plain_columns`; any other with
pydantic, `schemas.parse`), and renders every domain error in the protocol's `{"error": ...}`
shape with its usual status. `hot_routes` is mounted ahead of every router by `create_app`.

The answer names the model version that gave it, in the body and the `Champion-Model-Version`
header (invariant 1). Capture and humility rules are the shared scoring path's (`scoring.predict`).
"""

from __future__ import annotations

import os
from typing import Any

import numpy.typing as npt
import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from champion.api import humility
from champion.api.body import read_json
from champion.api.deps import authenticate_from_memory
from champion.api.inference import render, schemas, tensors
from champion.api.inference.errors import render_error
from champion.api.routing import refuse_nul
from champion.context import ServerContext
from champion.deployments import scoring
from champion.errors import ChampionError
from champion.serving import inputs
from champion.serving.engine import DeploymentView, ServingEngine
from champion.spaces.access import AccessCache

MODEL_VERSION_HEADER = "Champion-Model-Version"


async def infer(request: Request) -> Response:
    state = request.app.state
    context: ServerContext = state.context
    engine: ServingEngine = state.engine
    access: AccessCache = state.access
    settings = context.settings
    model_name: str = request.path_params["model_name"]
    pinned: str | None = request.path_params.get("model_version")
    try:
        if "\x00" in request.scope["path"] or b"%00" in request.scope["query_string"]:
            refuse_nul(request)  # as on every FastAPI route of the face; looked for only when it may hold one
        actor = await authenticate_from_memory(context, access, request.headers.get("authorization"))
        view = scoring.resolve(engine, access, actor, model_name)
        if pinned is not None:
            scoring.require_version(view, view.champion, pinned)
        with scoring.reading(engine, view):
            body = await read_json(request, limit=settings.max_request_bytes)
            rows, request_id, names = _request(body, view, limit=settings.max_rows_per_request)
            # Gone before the prediction is awaited: held by every request in flight, the bodies'
            # objects (a dict and two lists per tensor) outlived the collector's young generations
            # and brought on full collections (1 row at c32: 4x the WML route's time in them).
            del body
        answer = await scoring.predict(engine, view, rows)
        if pinned is not None:
            scoring.require_version(view, answer.version, pinned)
        request_id = request_id or render.response_id(os.urandom(16))  # a uuid4's text
        content = orjson.dumps(render.inference(answer, model_name=model_name, request_id=request_id, names=names))
    except ChampionError as error:
        return render_error(error)
    except ClientDisconnect:
        # The caller went away mid-body: nobody is left to answer, and it is no server error.
        return Response(status_code=499)
    headers = {MODEL_VERSION_HEADER: render.version(answer.version)}
    if answer.humility is not None:  # one attribute check for deployments without rules
        headers.update(humility.headers((answer,)))
    return Response(content, media_type="application/json", headers=headers)


def _request(body: Any, view: DeploymentView, *, limit: int) -> tuple[npt.NDArray[Any], str | None, list[str] | None]:
    """The rows, the request's id and the outputs asked for (None: all), or an InvalidInput.

    The quick ways first, each declining what it does not take at a glance (and they take disjoint
    layouts, so their order changes no answer); pydantic and the tensors one by one for the rest.
    """
    signature = view.champion.signature
    names = None
    if (quick := tensors.feature_matrix(signature, body)) is not None:
        rows, request_id = quick
    elif (block := tensors.plain_rows(signature, body)) is not None:  # declines a request of several tensors at once
        records, request_id = block
        rows = inputs.from_records(signature, None, records, field="inputs[0]")
    elif (plain := tensors.plain_columns(body)) is not None:
        columns, request_id = plain
        rows = tensors.columns_matrix(signature, columns, ignore=view.retired_fields)
    else:
        parsed = schemas.parse(body)
        request_id, names = parsed.id, render.wanted(signature, parsed.outputs)
        rows = tensors.matrix(signature, parsed.inputs, ignore=view.retired_fields)
    inputs.check_row_count(len(rows), limit=limit, field="inputs")
    return rows, request_id, names


hot_routes = [
    Route("/v2/models/{model_name}/infer", infer, methods=["POST"]),
    # The protocol's optional version segment: the version the deployment serves, or a 404.
    Route("/v2/models/{model_name}/versions/{model_version}/infer", infer, methods=["POST"]),
]
