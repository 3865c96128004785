"""/v2/software_specifications and the CAMS /v2/assets view of models."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from champion.api.deps import ActorDep, SessionDep, StoreDep
from champion.api.wml import render
from champion.api.wml.errors import WMLRoute
from champion.errors import NotFound
from champion.models import service as models
from champion.models import software_specs

router = APIRouter(route_class=WMLRoute)


@router.get("/v2/software_specifications")
def list_software_specs(actor: ActorDep, name: str | None = None) -> dict[str, Any]:
    specs = [spec for spec in software_specs.CATALOGUE if name is None or spec.name == name]
    return {"total_results": len(specs), "resources": [render.software_spec(spec) for spec in specs]}


@router.get("/v2/software_specifications/{spec_id}")
def get_software_spec(spec_id: str, actor: ActorDep) -> dict[str, Any]:
    spec = software_specs.find(spec_id=spec_id)
    if spec is None:
        raise NotFound(f"no software specification with id {spec_id!r}")
    return render.software_spec(spec)


# `/v2/assets/{id}` is routed by data_assets.py, which hands model ids to these two.
def get_asset(asset_id: str, session: SessionDep, actor: ActorDep, space_id: str | None = None) -> dict[str, Any]:
    row = models.get_model(session, actor, model_id=asset_id, space_id=space_id)
    return render.asset(row, models.latest_version(session, model_id=row.id))


def delete_asset(
    asset_id: str, session: SessionDep, actor: ActorDep, store: StoreDep, space_id: str | None = None
) -> Response:
    models.get_model(session, actor, model_id=asset_id, space_id=space_id)
    models.delete_model(session, actor, store, model_id=asset_id)
    return Response(status_code=204)
