"""What an archive carries of deployments and revisions besides files: settings, runtime values, definitions."""

from __future__ import annotations

import io
import shutil
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from champion.context import ServerContext
from champion.deployments import service as deployments
from champion.deployments import settings
from champion.deployments.runtime_values import RuntimeValue
from champion.deployments.schemas import NewDeployment
from champion.deployments.settings import DeploymentSettings
from champion.deployments.tables import DeploymentSettingsRow
from champion.deployments.types import Kind
from champion.models import service as models
from champion.transfer import service as transfer
from champion.transfer.errors import BadArchive
from champion.transfer.types import ImportReport, Outcome
from champion.users.service import Actor
from tests.model_files import ModelFiles
from tests.transfer.test_service import counts, deploy, export, import_archive, new_model, new_space, outcomes

PARAMETERS: list[dict[str, Any]] = [
    {"fieldName": "threshold", "type": "numeric", "defaultValue": 0.5, "minValue": 0, "maxValue": 1},
    {"fieldName": "greeting", "type": "string", "defaultValue": "hello"},
    {"fieldName": "token", "type": "string", "allowEmpty": False},
]
VALUES: list[RuntimeValue] = [
    RuntimeValue("threshold", 0.8, "numeric"),
    RuntimeValue("token", "s3cret", "string"),
]
SETTINGS: dict[str, Any] = {
    "drift_tracking": {"feature_drift_enabled": True},
    "segment_analysis": {"enabled": True, "attributes": ["x1", "x3"]},
    "humility": {
        "enabled": True,
        "rules": [{"name": "odd x2", "trigger": "outlying_input", "feature": "x2", "lower": -4, "upper": 4}],
    },
}


def add_version(
    context: ServerContext, actor: Actor, model_id: str, source: Path, definitions: list[dict[str, Any]] | None
) -> int:
    upload = context.store.stage_dir() / source.name
    shutil.copy(source, upload)
    with context.sessions() as session:
        version = models.add_version(
            session,
            actor,
            context.store,
            model_id=model_id,
            upload=upload,
            limit=10**8,
            runtime_parameters=definitions,
        )
    shutil.rmtree(upload.parent, ignore_errors=True)
    return version.number


@dataclass(frozen=True)
class Tuned:
    space_id: str
    model_id: str
    deployment_id: str


@pytest.fixture
def tuned(context: ServerContext, alice: Actor, model_files: ModelFiles) -> Tuned:
    """A model whose revision declares runtime parameters, deployed with values and settings of its own."""
    space_id = new_space(context, alice, "tuned")
    model_id = new_model(context, alice, space_id, "tuned")
    add_version(context, alice, model_id, model_files.classifier_named, PARAMETERS)
    with context.sessions() as session:
        new = NewDeployment(name="tuned-online", kind=Kind.ONLINE, model_id=model_id)
        described, _ = deployments.create(session, alice, space_id=space_id, new=new, runtime_parameter_values=VALUES)
        deployment_id = described.deployment.id
        deployments.update_settings(session, alice, deployment_id=deployment_id, changes=SETTINGS)
    return Tuned(space_id, model_id, deployment_id)


def carried(context: ServerContext, actor: Actor, space_id: str) -> dict[str, Any]:
    """What a space's deployments and revisions carry besides their files, by name."""
    with context.sessions() as session:
        found: dict[str, Any] = {}
        for model in models.list_models(session, actor, space_id=space_id):
            for v in models.list_versions(session, actor, model_id=model.id):
                found[f"{model.name} {v.number}"] = v.runtime_parameters
        for described in deployments.list_deployments(session, actor, space_id=space_id):
            d = described.deployment
            found[d.name] = (
                settings.stored(session, deployment_id=d.id),
                settings.stored_runtime_values(session, deployment_id=d.id),
            )
    return found


def manifest_of(archive: Path) -> dict[str, Any]:
    with tarfile.open(archive) as tar:
        data: dict[str, Any] = orjson.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    return data


def edited(archive: Path, target: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    """A copy of `archive` whose manifest `edit` changed in place (the blobs as they were)."""
    manifest = manifest_of(archive)
    edit(manifest)
    with tarfile.open(archive) as source, tarfile.open(target, "w:gz") as out:
        for member in source.getmembers():
            original = source.extractfile(member)
            assert original is not None
            data = orjson.dumps(manifest) if member.name == "manifest.json" else original.read()
            member.size = len(data)
            out.addfile(member, io.BytesIO(data))
    return target


def settings_rows(context: ServerContext) -> int:
    with context.sessions() as session:
        return session.scalar(select(func.count()).select_from(DeploymentSettingsRow)) or 0


def test_definitions_settings_and_values_round_trip(
    context: ServerContext, alice: Actor, tuned: Tuned, tmp_path: Path
) -> None:
    archive = export(context, alice, tuned.space_id, tmp_path / "tuned.tar.gz")
    manifest = manifest_of(archive)
    (version,) = manifest["models"][0]["versions"]
    assert [d["fieldName"] for d in version["runtime_parameters"]] == ["threshold", "greeting", "token"]
    (entry,) = manifest["deployments"]
    assert entry["runtime_parameter_values"] == {"threshold": 0.8, "greeting": "hello", "token": "s3cret"}
    assert DeploymentSettings.model_validate(entry["settings"]).segment_analysis.attributes == ["x1", "x3"]

    target = new_space(context, alice, "target")
    report = import_archive(context, alice, target, archive)
    assert set(outcomes(report).values()) == {"created"}
    assert carried(context, alice, target) == carried(context, alice, tuned.space_id)
    assert carried(context, alice, target)["tuned-online"][0].humility.rules[0].feature == "x2"

    # The same from space to space, and again changes nothing.
    other = new_space(context, alice, "other")
    with context.sessions() as session:
        transfer.import_space(
            session, alice, context.store, space_id=other, source_space_id=tuned.space_id, limit=10**8
        )
    assert carried(context, alice, other) == carried(context, alice, tuned.space_id)
    assert set(outcomes(import_archive(context, alice, target, archive)).values()) == {"unchanged"}


def test_an_existing_deployment_keeps_its_own_settings_and_values(
    context: ServerContext, alice: Actor, tuned: Tuned, tmp_path: Path
) -> None:
    archive = export(context, alice, tuned.space_id, tmp_path / "tuned.tar.gz")
    target = new_space(context, alice, "target")
    import_archive(context, alice, target, archive)
    with context.sessions() as session:
        (described,) = deployments.list_deployments(session, alice, space_id=target)
        own = deployments.update_settings(
            session, alice, deployment_id=described.deployment.id, changes={"challengers": {"enabled": True}}
        )
    before = carried(context, alice, target)

    report = import_archive(context, alice, target, archive)

    item = next(item for item in report.items if item.name == "tuned-online")
    assert item.outcome == Outcome.SKIPPED and "its settings differ from the archive's" in item.reason
    assert carried(context, alice, target) == before and before["tuned-online"][0] == own


def test_an_archive_without_the_new_keys_imports_with_defaults(
    context: ServerContext, alice: Actor, tuned: Tuned, tmp_path: Path
) -> None:
    def old(manifest: dict[str, Any]) -> None:
        for model in manifest["models"]:
            for version in model["versions"]:
                del version["runtime_parameters"]
        for deployment in manifest["deployments"]:
            del deployment["settings"], deployment["runtime_parameter_values"]

    archive = edited(export(context, alice, tuned.space_id, tmp_path / "new.tar.gz"), tmp_path / "old.tar.gz", old)
    assert manifest_of(archive)["format_version"] == 1
    target = new_space(context, alice, "target")
    rows_before = settings_rows(context)

    report = import_archive(context, alice, target, archive)

    assert set(outcomes(report).values()) == {"created"}
    assert carried(context, alice, target) == {"tuned 1": None, "tuned-online": (DeploymentSettings(), {})}
    assert settings_rows(context) == rows_before  # nothing to store: every default
    # Re-imported into the source, nothing is compared that the archive does not carry.
    assert set(outcomes(import_archive(context, alice, tuned.space_id, archive)).values()) == {"unchanged"}


@pytest.mark.parametrize(
    ("edit", "field", "words"),
    [
        (
            {"settings": {"humility": {"enabled": True, "rules": [{"name": "r", "trigger": "sometimes"}]}}},
            "manifest.deployments[0].settings.humility.rules.0.trigger",
            "deployment 'tuned-online'",
        ),
        (
            {"settings": {"segment_analysis": {"enabled": True, "attributes": ["region"]}}},
            "manifest.deployments[0].settings.segment_analysis.attributes",
            "does not take region",
        ),
        (
            {"settings": {"prediction_intervals": {"enabled": True, "percentiles": [80]}}},
            "manifest.deployments[0].settings.prediction_intervals.enabled",
            "regression",
        ),
        ({"settings": {"colour": "red"}}, "manifest.deployments[0].settings.colour", "Extra inputs"),
        (
            {"runtime_parameter_values": {"threshold": 7, "token": "t"}},
            "manifest.deployments[0].runtime_parameter_values.threshold",
            "above the maximum",
        ),
        (
            {"runtime_parameter_values": {"threshold": 0.1}},
            "manifest.deployments[0].runtime_parameter_values.token",
            "requires a value",
        ),
        (
            {"runtime_parameter_values": {"token": "t", "colour": "red"}},
            "manifest.deployments[0].runtime_parameter_values.colour",
            "declares no runtime parameter",
        ),
        ({"settings": ["on"]}, "manifest.deployments[0].settings", "dictionary"),
    ],
)
def test_a_bad_setting_or_value_is_refused_naming_it_and_nothing_is_written(
    context: ServerContext,
    alice: Actor,
    tuned: Tuned,
    tmp_path: Path,
    edit: dict[str, Any],
    field: str,
    words: str,
) -> None:
    def bad(manifest: dict[str, Any]) -> None:
        manifest["deployments"][0].update(edit)

    archive = edited(export(context, alice, tuned.space_id, tmp_path / "a.tar.gz"), tmp_path / "bad.tar.gz", bad)
    target = new_space(context, alice, "target")
    before = (counts(context), settings_rows(context))

    with pytest.raises(BadArchive) as caught:
        import_archive(context, alice, target, archive)
    assert caught.value.field == field and words in caught.value.message
    assert (counts(context), settings_rows(context)) == before  # not even the model, which was fine


def test_a_bad_runtime_parameter_definition_is_refused_naming_the_revision(
    context: ServerContext, alice: Actor, tuned: Tuned, tmp_path: Path
) -> None:
    def bad(manifest: dict[str, Any]) -> None:
        manifest["models"][0]["versions"][0]["runtime_parameters"] = [{"fieldName": "a", "type": "date"}]

    archive = edited(export(context, alice, tuned.space_id, tmp_path / "a.tar.gz"), tmp_path / "bad.tar.gz", bad)
    target = new_space(context, alice, "target")
    before = counts(context)
    with pytest.raises(BadArchive) as caught:
        import_archive(context, alice, target, archive)
    assert caught.value.field == "manifest.models[0].versions[0].runtime_parameters.0.type"
    assert counts(context) == before


def test_a_revision_with_the_same_file_keeps_its_own_definitions(
    context: ServerContext, alice: Actor, tuned: Tuned, model_files: ModelFiles, tmp_path: Path
) -> None:
    """A revision is known by its file: the target's copy is not added again, and keeps what it declares.

    The new deployment serves the target's revision, so the archive's values are held to its definitions.
    """
    target = new_space(context, alice, "target")
    model_id = new_model(context, alice, target, "tuned")
    own = [*PARAMETERS, {"fieldName": "colour", "type": "string", "defaultValue": "blue"}]
    add_version(context, alice, model_id, model_files.classifier_named, own)

    report: ImportReport = import_archive(
        context, alice, target, export(context, alice, tuned.space_id, tmp_path / "a.tar.gz")
    )

    model = next(item for item in report.items if item.name == "tuned")
    assert model.outcome == Outcome.UNCHANGED and model.revisions == ()
    assert "the archive's revision 1 has the same file as revision 1 here" in model.reason
    assert "revision 1 here keeps its own" in model.reason
    found = carried(context, alice, target)
    assert [d["fieldName"] for d in found["tuned 1"]] == ["threshold", "greeting", "token", "colour"]
    assert found["tuned-online"][1] == {"threshold": 0.8, "greeting": "hello", "token": "s3cret", "colour": "blue"}


def test_values_that_do_not_fit_the_kept_definitions_stop_the_import(
    context: ServerContext, alice: Actor, tuned: Tuned, model_files: ModelFiles, tmp_path: Path
) -> None:
    target = new_space(context, alice, "target")
    model_id = new_model(context, alice, target, "tuned")
    add_version(context, alice, model_id, model_files.classifier_named, PARAMETERS[:1])
    deploy(context, alice, target, model_id, "elsewhere")
    before = counts(context)

    with pytest.raises(BadArchive) as caught:
        import_archive(context, alice, target, export(context, alice, tuned.space_id, tmp_path / "a.tar.gz"))
    assert caught.value.field == "manifest.deployments[0].runtime_parameter_values.greeting"
    assert counts(context) == before
