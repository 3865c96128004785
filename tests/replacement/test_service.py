"""Starting replacements and rollbacks: what is refused, what is written, on both databases."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from champion.context import ServerContext
from champion.deployments import lifecycle
from champion.deployments import service as deployments
from champion.deployments.schemas import NewDeployment
from champion.deployments.types import Kind
from champion.errors import InvalidInput, PermissionDenied, ValidationFailed
from champion.models import service as models
from champion.models.schemas import NewModel
from champion.models.software_specs import CATALOGUE
from champion.operations.tables import Operation
from champion.replacement import service as replacement
from champion.replacement.errors import NothingToRollBack, ReplacementInProgress
from champion.replacement.tables import ReplacementRecord
from champion.replacement.types import Outcome, Reason, ReplacePayload
from champion.spaces import service as spaces
from champion.spaces.schemas import SpaceDetails
from champion.spaces.types import Role
from champion.users.service import Actor
from tests.model_files import ModelFiles, build_variants


@pytest.fixture(scope="session")
def variants(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_variants(tmp_path_factory.mktemp("variants"))


def add_version(context: ServerContext, actor: Actor, model_id: str, source: Path, tmp_path: Path) -> int:
    upload = tmp_path / f"upload-{source.name}"
    shutil.copy(source, upload)
    with context.sessions() as session:
        return models.add_version(session, actor, context.store, model_id=model_id, upload=upload, limit=10**8).number


@pytest.fixture
def live(context: ServerContext, alice: Actor, bob: Actor, model_files: ModelFiles, tmp_path: Path) -> dict[str, Any]:
    """A ready deployment of model m rev 1; bob is a viewer."""
    with context.sessions() as session:
        space = spaces.create_space(session, alice, details=SpaceDetails(name="s"))
        spaces.add_members(session, alice, space_id=space.id, members=[(bob.user_id, Role.VIEWER)])
        model = models.create_model(
            session,
            alice,
            space_id=space.id,
            new=NewModel(name="m", type="scikit-learn_1.3", software_spec_id=CATALOGUE[0].id),
        )
    add_version(context, alice, model.id, model_files.classifier_named, tmp_path)
    with context.sessions() as session:
        described, _ = deployments.create(
            session, alice, space_id=space.id, new=NewDeployment(name="d", kind=Kind.ONLINE, model_id=model.id)
        )
        lifecycle.deployed(session, deployment_id=described.deployment.id, version_id=described.version.id)
        session.commit()
    return {"space": space.id, "model": model.id, "deployment": described.deployment.id}


def start(
    context: ServerContext, actor: Actor, live: dict[str, Any], rev: int | None, **kw: Any
) -> replacement.Started:
    with context.sessions() as session:
        return replacement.start(
            session, actor, context.store, deployment_id=live["deployment"], model_id=live["model"], rev=rev, **kw
        )


def records(context: ServerContext) -> int:
    with context.sessions() as session:
        return session.scalar(select(func.count()).select_from(ReplacementRecord)) or 0


def test_a_valid_replacement_records_everything_in_one_commit(
    context: ServerContext, alice: Actor, live: dict[str, Any], variants: dict[str, Path], tmp_path: Path
) -> None:
    add_version(context, alice, live["model"], variants["retrained"], tmp_path)
    started = start(context, alice, live, 2, reason=Reason.ACCURACY)
    assert started.described.deployment.state == "updating"
    assert started.report.status == "passing"
    with context.sessions() as session:
        record = session.get(ReplacementRecord, started.record.id)
        assert record is not None and record.outcome == Outcome.RUNNING and record.reason == "ACCURACY"
        assert record.report["status"] == "passing"
        operation = session.get(Operation, started.operation.id)
        assert operation is not None and operation.state == "pending" and operation.kind == "replace"
        assert ReplacePayload.model_validate(operation.payload).record_id == record.id


def test_a_second_replacement_while_updating_is_a_conflict(
    context: ServerContext, alice: Actor, live: dict[str, Any], variants: dict[str, Path], tmp_path: Path
) -> None:
    add_version(context, alice, live["model"], variants["retrained"], tmp_path)
    start(context, alice, live, 2)
    with pytest.raises(ReplacementInProgress):
        start(context, alice, live, 2)
    assert records(context) == 1


@pytest.mark.parametrize(("variant", "failing"), [("regressor", "targetType"), ("three_classes", "targetClasses")])
def test_a_failing_check_writes_nothing(
    context: ServerContext,
    alice: Actor,
    live: dict[str, Any],
    variants: dict[str, Path],
    tmp_path: Path,
    variant: str,
    failing: str,
) -> None:
    add_version(context, alice, live["model"], variants[variant], tmp_path)
    with pytest.raises(ValidationFailed) as error:
        start(context, alice, live, 2)
    assert failing in error.value.message
    assert failing in [c.name for c in error.value.report.failing()]
    with context.sessions() as session:
        assert deployments.get(session, alice, deployment_id=live["deployment"]).deployment.state == "ready"
    assert records(context) == 0


def test_the_current_model_is_not_a_candidate(context: ServerContext, alice: Actor, live: dict[str, Any]) -> None:
    with pytest.raises(ValidationFailed, match="notCurrentModel"):
        start(context, alice, live, 1)


def test_fewer_features_warn_and_proceed(
    context: ServerContext, alice: Actor, live: dict[str, Any], variants: dict[str, Path], tmp_path: Path
) -> None:
    add_version(context, alice, live["model"], variants["fewer_features"], tmp_path)
    started = start(context, alice, live, 2)
    assert started.report.status == "warning" and started.report.schema_mismatch


def test_viewers_cannot_replace_but_can_see_the_checks(
    context: ServerContext, alice: Actor, bob: Actor, live: dict[str, Any], variants: dict[str, Path], tmp_path: Path
) -> None:
    add_version(context, alice, live["model"], variants["retrained"], tmp_path)
    with pytest.raises(PermissionDenied):
        start(context, bob, live, 2)
    with context.sessions() as session:
        report = replacement.check(
            session, bob, context.store, deployment_id=live["deployment"], model_id=live["model"], rev=2
        )
    assert [c.name for c in report.failing()] == ["permission"]


@pytest.mark.parametrize(
    ("situation", "refusal", "failing"),
    [
        ("a viewer asks", PermissionDenied, ["permission"]),
        ("another replacement runs", ReplacementInProgress, ["predictionReady"]),
        ("the deployment is inactive", ValidationFailed, ["predictionReady"]),
        ("the candidate is a regressor", ValidationFailed, ["targetType", "targetClasses"]),
    ],
)
def test_start_refuses_exactly_when_the_report_fails_and_for_the_same_checks(
    context: ServerContext,
    alice: Actor,
    bob: Actor,
    live: dict[str, Any],
    variants: dict[str, Path],
    tmp_path: Path,
    situation: str,
    refusal: type[Exception],
    failing: list[str],
) -> None:
    """The report is the one gate: what `check` shows is what `start` decides (no second rule before it)."""
    add_version(context, alice, live["model"], variants["retrained"], tmp_path)
    add_version(context, alice, live["model"], variants["regressor"], tmp_path)
    caller, rev = (bob, 2) if situation == "a viewer asks" else (alice, 3 if "regressor" in situation else 2)
    if situation == "another replacement runs":
        add_version(context, alice, live["model"], variants["retrained"], tmp_path)
        start(context, alice, live, 4)
    if situation == "the deployment is inactive":
        with context.sessions() as session:
            deployments.deactivate(session, alice, deployment_id=live["deployment"])
    with context.sessions() as session:
        report = replacement.check(
            session, caller, context.store, deployment_id=live["deployment"], model_id=live["model"], rev=rev
        )
    assert [c.name for c in report.failing()] == failing
    before = records(context)
    with pytest.raises(refusal) as error:
        start(context, caller, live, rev)
    if isinstance(error.value, ValidationFailed):
        assert [c.name for c in error.value.report.failing()] == failing
    assert records(context) == before


def test_a_tampered_artifact_fails_model_status(
    context: ServerContext, alice: Actor, live: dict[str, Any], variants: dict[str, Path], tmp_path: Path
) -> None:
    add_version(context, alice, live["model"], variants["retrained"], tmp_path)
    with context.sessions() as session:
        version = models.get_version(session, alice, model_id=live["model"], number=2)
    context.store.open_path(version.sha256).write_bytes(b"tampered")
    with pytest.raises(ValidationFailed, match="modelStatus"):
        start(context, alice, live, 2)


def test_unknown_candidates_name_the_field(context: ServerContext, alice: Actor, live: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput) as error:
        start(context, alice, live, 9)
    assert error.value.field == "asset.rev"
    with context.sessions() as session, pytest.raises(InvalidInput) as error:
        replacement.start(session, alice, context.store, deployment_id=live["deployment"], model_id="nope", rev=None)
    assert error.value.field == "asset.id"


def test_nothing_to_roll_back_at_first(context: ServerContext, alice: Actor, live: dict[str, Any]) -> None:
    with context.sessions() as session, pytest.raises(NothingToRollBack):
        replacement.rollback(session, alice, context.store, deployment_id=live["deployment"])


def test_asset_patches_go_through_the_same_checks(
    context: ServerContext, alice: Actor, live: dict[str, Any], variants: dict[str, Path], tmp_path: Path
) -> None:
    add_version(context, alice, live["model"], variants["regressor"], tmp_path)
    body = [{"op": "replace", "path": "/asset", "value": {"id": live["model"], "rev": "2"}}]
    with context.sessions() as session, pytest.raises(ValidationFailed, match="targetType"):
        replacement.apply_patch(session, alice, context.store, deployment_id=live["deployment"], operations_body=body)
    bad_rev = [{"op": "replace", "path": "/asset", "value": {"id": live["model"], "rev": "two"}}]
    with context.sessions() as session, pytest.raises(InvalidInput) as error:
        replacement.apply_patch(
            session, alice, context.store, deployment_id=live["deployment"], operations_body=bad_rev
        )
    assert error.value.field == "/asset/rev"
