"""The Test panel: score a few rows through the serving engine and show which model version answered.

It is the prediction path the API uses (`deployments.scoring` and `serving.inputs`), run from
memory in this process, so a test in the browser sees what a client would.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from champion.api.deps import AccessDep, EngineDep, SessionDep, SettingsDep
from champion.deployments import scoring
from champion.errors import ChampionError, InvalidInput, NotFound
from champion.models import service as models
from champion.runtimes import Signature
from champion.runtimes.base import FeatureType
from champion.serving import inputs
from champion.ui.render import UIRoute, page
from champion.ui.session import ChangingSession

router = APIRouter(route_class=UIRoute)


@dataclass(frozen=True)
class Row:
    label: Any
    probabilities: list[float]


def _from_fields(signature: Signature, form: Any) -> tuple[list[str], list[list[Any]]]:
    """One row from the form built from the signature: each field read as its feature's type."""
    names, values = [], []
    for feature in signature.features:
        text = str(form.get(f"feature:{feature.name}", "")).strip()
        try:
            if feature.type is FeatureType.DOUBLE:
                value: Any = float(text)
            elif feature.type is FeatureType.INTEGER:
                value = int(float(text))
            elif feature.type is FeatureType.BOOLEAN:
                value = text.lower() == "true"
            else:
                value = text
        except ValueError:
            raise InvalidInput(f"{text!r} is not a {feature.type.value}", field=feature.name) from None
        names.append(feature.name)
        values.append(value)
    return names, [values]


def _from_json(text: str) -> tuple[list[str] | None, list[list[Any]]]:
    """The first input block of a WML scoring payload (or a bare {"fields", "values"} block)."""
    try:
        payload = json.loads(text)
    except ValueError as exc:
        raise InvalidInput(f"not valid JSON: {exc}", field="JSON input") from None
    block = payload.get("input_data", [None])[0] if isinstance(payload, dict) and "input_data" in payload else payload
    if not isinstance(block, dict) or not isinstance(block.get("values"), list):
        raise InvalidInput('expected {"input_data": [{"fields": [...], "values": [[...]]}]}', field="JSON input")
    fields = block.get("fields")
    if fields is not None and not (isinstance(fields, list) and all(isinstance(f, str) for f in fields)):
        raise InvalidInput("fields must be a list of names", field="JSON input")
    return fields, block["values"]


@router.post("/ui/deployments/{deployment_id}/predict", response_class=HTMLResponse)
async def predict(
    deployment_id: str,
    request: Request,
    ui: ChangingSession,
    session: SessionDep,
    engine: EngineDep,
    access: AccessDep,
    settings: SettingsDep,
) -> Response:
    form = await request.form()
    try:
        view = scoring.resolve(engine, access, ui.actor, deployment_id)
        signature = view.champion.signature
        with scoring.reading(engine, view):
            payload = str(form.get("payload", "")).strip()
            fields, values = _from_json(payload) if payload else _from_fields(signature, form)
            inputs.check_row_count(len(values), limit=settings.max_rows_per_request, field="payload")
            rows = inputs.from_records(signature, fields, values, ignore=view.retired_fields)
        answer = await scoring.predict(engine, view, rows)
    except NotFound:
        raise
    except ChampionError as error:
        return page(request, "_predict_result.html", {"error": error.message}, status=400)
    version = answer.version
    model = await run_in_threadpool(models.get_model, session, ui.actor, model_id=version.model_id)
    prediction = answer.prediction
    probabilities = prediction.probabilities.tolist() if prediction.probabilities is not None else None
    result = [
        Row(label, probabilities[i] if probabilities is not None else [])
        for i, label in enumerate(prediction.labels.tolist())
    ]
    classes = list(version.signature.target.classes) if probabilities is not None else []
    context = {"model_name": model.name, "version": version, "rows": result, "classes": classes}
    return page(request, "_predict_result.html", context)
