"""An import keeps an archive's software spec only when it fits the model's family; else it takes the general one."""

from __future__ import annotations

from pathlib import Path

from champion.context import ServerContext
from champion.models import service as models
from champion.models import software_specs
from champion.models.software_specs import CATALOGUE
from champion.transfer.types import Outcome
from champion.users.service import Actor
from tests.transfer.test_service import hand_made, import_archive, new_space


def manifest(*entries: tuple[str, str, str]) -> dict[str, object]:
    return {
        "format_version": 1,
        "champion_version": "9.9.9",
        "exported_at": "2026-01-01T00:00:00Z",
        "space": {"id": "elsewhere", "name": "far away"},
        "models": [
            {"name": name, "type": model_type, "software_spec_id": spec_id, "versions": []}
            for name, model_type, spec_id in entries
        ],
        "deployments": [],
    }


def test_a_spec_that_does_not_fit_the_model_is_replaced_by_the_general_one(
    context: ServerContext, alice: Actor, tmp_path: Path
) -> None:
    xgboost, onnx = (next(s for s in CATALOGUE if s.name.startswith(prefix)) for prefix in ("xgboost_", "onnxruntime_"))
    target = new_space(context, alice, "target")
    archive = hand_made(
        tmp_path / "a.tar.gz",
        manifest(("misfit", "scikit-learn_1.3", xgboost.id), ("onnx", "onnxruntime_1.16", onnx.id)),
    )
    misfit, fitting = import_archive(context, alice, target, archive).items
    assert misfit.outcome == Outcome.CREATED and fitting.outcome == Outcome.CREATED
    assert misfit.reason and f"software spec {xgboost.name!r} does not fit scikit-learn_1.3 models" in misfit.reason
    with context.sessions() as session:
        specs = {m.name: m.software_spec_id for m in models.list_models(session, alice, space_id=target)}
    assert specs == {"misfit": CATALOGUE[0].id, "onnx": onnx.id}
    assert software_specs.find(spec_id=specs["onnx"]) is onnx
