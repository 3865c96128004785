"""An archive carries each revision's signature: names an MLflow folder was logged with survive export and import."""

from __future__ import annotations

import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from champion import runtimes
from champion.context import ServerContext
from champion.models import service as models
from champion.runtimes import Framework, Signature
from champion.serving import inputs
from champion.transfer import service as transfer
from champion.transfer.errors import BadArchive
from champion.transfer.types import Outcome
from champion.users.service import Actor
from tests.api.test_wml_deployments import deploy as wml_deploy
from tests.api.test_wml_deployments import score, wait_until_settled
from tests.api.test_wml_routes import serving
from tests.model_files import ModelFiles
from tests.models.test_mlflow import COLUMNS, TYPES, Logged, frame, put_content, save, target
from tests.models.test_mlflow import new_model as wml_model
from tests.transfer.test_service import (
    add_version,
    counts,
    deploy,
    export,
    import_archive,
    new_model,
    new_space,
    outcomes,
)
from tests.transfer.test_settings import edited, manifest_of

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # mlflow warns on import about optional extras
    import mlflow.sklearn
    from mlflow.models import infer_signature

PLACEHOLDERS = ["f0", "f1", "f2", "f3"]


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Logged:
    """An MLflow sklearn folder, tarred: a model fitted on a bare array, logged with its columns' names and types."""
    home = tmp_path_factory.mktemp("mlflow-transfer")
    train = frame(200, seed=0)
    bare = train.to_numpy()  # the pickled model itself knows no column names: it reports f0..f3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = LogisticRegression().fit(bare, target(train))
        mlflow.sklearn.save_model(
            model,
            home / "sklearn",
            pip_requirements=[],
            serialization_format="cloudpickle",
            signature=infer_signature(train, model.predict(bare)),
        )
    return Logged(save(home / "sklearn"), model, "scikit-learn", "scikit-learn")


@dataclass(frozen=True)
class Source:
    space_id: str
    churn: str


@pytest.fixture
def source(context: ServerContext, alice: Actor, model_files: ModelFiles, logged: Logged) -> Source:
    """ "churn": a bare pickle (revision 1) and the MLflow folder (revision 2, deployed); "booster": an XGBoost file."""
    space_id = new_space(context, alice, "source")
    churn = new_model(context, alice, space_id, "churn")
    add_version(context, alice, churn, model_files.classifier_plain)
    add_version(context, alice, churn, logged.tar)
    booster = new_model(context, alice, space_id, "booster", "xgboost_2")
    add_version(context, alice, booster, model_files.xgboost_json)
    deploy(context, alice, space_id, churn, "churn-online", rev=2)
    return Source(space_id, churn)


def stored(context: ServerContext, actor: Actor, space_id: str) -> dict[str, dict[str, Any]]:
    """Each revision's stored signature, by model name and revision number."""
    with context.sessions() as session:
        return {
            f"{model.name} {v.number}": v.signature
            for model in models.list_models(session, actor, space_id=space_id)
            for v in models.list_versions(session, actor, model_id=model.id)
        }


def names(signature: dict[str, Any]) -> list[str]:
    return [f["name"] for f in signature["features"]]


def predicted(context: ServerContext, actor: Actor, space_id: str, fields: list[str], values: list[list[Any]]) -> Any:
    """Labels from "churn" revision 2 in `space_id` for rows named by `fields`, as a face turns them into a matrix."""
    with context.sessions() as session:
        (model,) = [m for m in models.list_models(session, actor, space_id=space_id) if m.name == "churn"]
        version = models.get_version(session, actor, model_id=model.id, number=2)
        sha256, framework, signature = version.sha256, Framework(version.framework), version.signature
    rows = inputs.from_records(Signature.from_dict(signature), fields, values)
    return runtimes.load(context.store.open_path(sha256), framework).predict(rows).labels.tolist()


def test_a_logged_signature_survives_export_and_import(
    context: ServerContext, alice: Actor, source: Source, logged: Logged, tmp_path: Path
) -> None:
    before = stored(context, alice, source.space_id)
    assert names(before["churn 2"]) == COLUMNS and names(before["churn 1"]) == ["f0", "f1", "f2"]
    archive = export(context, alice, source.space_id, tmp_path / "source.tar.gz")
    versions = manifest_of(archive)["models"][0]["versions"]
    assert [f["name"] for f in versions[1]["signature"]["features"]] == COLUMNS
    assert [f["type"] for f in versions[1]["signature"]["features"]] == TYPES
    assert versions[0]["signature"]["named"] is False

    target_space = new_space(context, alice, "target")
    report = import_archive(context, alice, target_space, archive)
    assert set(outcomes(report).values()) == {"created"}
    assert stored(context, alice, target_space) == before

    # A client sends the logged names (in any order), and the imported revision answers like the model.
    rows = frame(6, seed=5)
    shuffled = list(reversed(COLUMNS))
    labels = predicted(context, alice, target_space, shuffled, rows[shuffled].astype(object).to_numpy().tolist())
    assert labels == logged.model.predict(rows.to_numpy()).tolist()

    # From space to space the same; and importing again changes nothing.
    other = new_space(context, alice, "other")
    with context.sessions() as session:
        transfer.import_space(
            session, alice, context.store, space_id=other, source_space_id=source.space_id, limit=10**8
        )
    assert stored(context, alice, other) == before
    assert set(outcomes(import_archive(context, alice, target_space, archive)).values()) == {"unchanged"}


def edit_signature(archive: Path, target_path: Path, model: int, version: int, change: Any) -> Path:
    def edit(manifest: dict[str, Any]) -> None:
        change(manifest["models"][model]["versions"][version]["signature"])

    return edited(archive, target_path, edit)


def drop_last(signature: dict[str, Any]) -> None:
    signature["features"].pop()


def string_x2(signature: dict[str, Any]) -> None:
    signature["features"][1]["type"] = "string"


def twice(signature: dict[str, Any]) -> None:
    signature["features"][1]["name"] = signature["features"][0]["name"]


def unknown_type(signature: dict[str, Any]) -> None:
    signature["features"][0]["type"] = "date"


@pytest.mark.parametrize(
    ("model", "version", "change", "field", "words"),
    [
        (
            0,
            1,
            drop_last,
            "manifest.models[0].versions[1].signature",
            "model 'churn' revision 2: the archive's signature has 3 inputs but the model takes 4",
        ),
        (
            1,
            0,
            string_x2,
            "manifest.models[1].versions[0].signature",
            "the archive's signature says x2 is a string, but the xgboost model reads numbers",
        ),
        (0, 1, twice, "manifest.models[0].versions[1].signature", "names an input feature twice"),
        (0, 1, unknown_type, "manifest.models[0].versions[1].signature.features[0].type", "should be"),
    ],
)
def test_an_inconsistent_signature_is_refused_naming_it_and_nothing_is_written(
    context: ServerContext,
    alice: Actor,
    source: Source,
    tmp_path: Path,
    model: int,
    version: int,
    change: Any,
    field: str,
    words: str,
) -> None:
    archive = export(context, alice, source.space_id, tmp_path / "a.tar.gz")
    tampered = edit_signature(archive, tmp_path / "bad.tar.gz", model, version, change)
    target_space = new_space(context, alice, "target")
    before = counts(context)

    with pytest.raises(BadArchive) as caught:
        import_archive(context, alice, target_space, tampered)
    assert caught.value.field == field and words in caught.value.message
    assert counts(context) == before  # not even the models before it, which were fine


def test_an_archive_without_signatures_imports_as_before(
    context: ServerContext, alice: Actor, source: Source, tmp_path: Path
) -> None:
    def old(manifest: dict[str, Any]) -> None:
        for model in manifest["models"]:
            for version in model["versions"]:
                del version["signature"]

    archive = edited(export(context, alice, source.space_id, tmp_path / "new.tar.gz"), tmp_path / "old.tar.gz", old)
    assert manifest_of(archive)["format_version"] == 1
    target_space = new_space(context, alice, "target")

    report = import_archive(context, alice, target_space, archive)

    assert set(outcomes(report).values()) == {"created"}
    # What the file alone reports: the placeholders of a model fitted on a bare array.
    imported = stored(context, alice, target_space)["churn 2"]
    assert names(imported) == PLACEHOLDERS and imported["named"] is False
    # Nothing is compared that the archive does not carry.
    assert set(outcomes(import_archive(context, alice, source.space_id, archive)).values()) == {"unchanged"}


def test_a_revision_with_the_same_file_keeps_its_own_signature(
    context: ServerContext, alice: Actor, source: Source, tmp_path: Path
) -> None:
    """The target holds the MLflow folder's model file uploaded bare: that is the revision, and it keeps its own."""
    with context.sessions() as session:
        flavor_file = models.get_version(session, alice, model_id=source.churn, number=2)
        digest, file_name = flavor_file.sha256, flavor_file.filename
    bare = tmp_path / file_name
    shutil.copy(context.store.open_path(digest), bare)
    target_space = new_space(context, alice, "target")
    churn = new_model(context, alice, target_space, "churn")
    add_version(context, alice, churn, bare)

    report = import_archive(context, alice, target_space, export(context, alice, source.space_id, tmp_path / "a.tar"))

    item = next(item for item in report.items if item.name == "churn")
    assert item.outcome == Outcome.NEW_REVISIONS and item.revisions == (2,)  # the archive's revision 1
    assert "the archive's revision 2 has the same file as revision 1 here but has another signature" in item.reason
    assert "revision 1 here keeps its own" in item.reason
    assert names(stored(context, alice, target_space)["churn 1"]) == PLACEHOLDERS


# Through the WML face, into a fresh server home: deployed there, it answers requests naming the logged columns.


def test_an_archive_carries_the_signature_to_another_server(logged: Logged, tmp_path: Path) -> None:
    rows = frame(6, seed=7)
    with serving(tmp_path / "home-a", "alice") as first:
        space = first.call("POST", "/v2/spaces", json={"name": "team"}).json()["metadata"]["id"]
        model_id = wml_model(first, space, "scikit-learn")
        assert put_content(first, space, model_id, logged.tar.read_bytes()).status_code == 201
        created = wml_deploy(first, space, model_id, name="churn-online")
        assert wait_until_settled(first, space, created["metadata"]["id"])["entity"]["status"]["state"] == "ready"
        response = first.call("GET", f"/v2/spaces/{space}/export")
        assert response.status_code == 200, response.text
        archive = response.content

    with serving(tmp_path / "home-b", "alice") as second:
        space = second.call("POST", "/v2/spaces", json={"name": "copy"}).json()["metadata"]["id"]
        imported = second.call("POST", f"/v2/spaces/{space}/import", content=archive)
        assert imported.status_code == 200, imported.text
        model, deployment = imported.json()["items"]
        details = second.call("GET", f"/ml/v4/models/{model['id']}", params={"space_id": space}).json()
        assert [f["name"] for f in details["entity"]["schemas"]["input"][0]["fields"]] == COLUMNS
        assert wait_until_settled(second, space, deployment["id"])["entity"]["status"]["state"] == "ready"
        fields = list(reversed(COLUMNS))
        body = {"input_data": [{"fields": fields, "values": rows[fields].astype(object).to_numpy().tolist()}]}
        answer = score(second, deployment["id"], body)
        assert answer.status_code == 200, answer.text
        (block,) = answer.json()["predictions"]
        assert [row[0] for row in block["values"]] == logged.model.predict(rows.to_numpy()).tolist()
        assert np.allclose([row[1] for row in block["values"]], logged.model.predict_proba(rows.to_numpy()))
