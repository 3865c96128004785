"""Deployment settings and runtime parameter values: who reads and writes them, what is refused, on both databases."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from champion import changes
from champion.cluster import service as cluster
from champion.context import ServerContext
from champion.deployments import lifecycle, settings
from champion.deployments import service as deployments
from champion.deployments.errors import DeploymentNotFound
from champion.deployments.runtime_values import RuntimeValue, merge
from champion.deployments.schemas import NewDeployment
from champion.deployments.settings import DeploymentSettings
from champion.deployments.tables import Deployment, DeploymentSettingsRow
from champion.deployments.types import Kind
from champion.errors import InvalidInput, PermissionDenied
from champion.follower import Follower
from champion.models import service as models
from champion.models.runtime_parameters import RuntimeParameterDefinition, from_stored, parse_definitions
from champion.models.schemas import NewModel
from champion.models.software_specs import CATALOGUE
from champion.operations.tables import Operation
from champion.replacement import service as replacement
from champion.replacement.handler import ReplaceHandler
from champion.replacement.types import ReplacePayload
from champion.serving.engine import ServingEngine
from champion.spaces.access import AccessCache
from champion.users.service import Actor
from tests.deployments.conftest import space_with_roles
from tests.model_files import ModelFiles, build_variants

PARAMETERS = [
    {"fieldName": "threshold", "type": "numeric", "defaultValue": 0.5, "minValue": 0, "maxValue": 1},
    {"fieldName": "greeting", "type": "string", "defaultValue": "hello"},
    {"fieldName": "verbose", "type": "boolean", "allowEmpty": False, "defaultValue": False},
]


def add_version(
    context: ServerContext,
    actor: Actor,
    model_id: str,
    source: Path,
    tmp_path: Path,
    runtime_parameters: list[dict[str, Any]] | None = None,
) -> int:
    upload = tmp_path / f"upload-{source.name}"
    shutil.copy(source, upload)
    with context.sessions() as session:
        version = models.add_version(
            session,
            actor,
            context.store,
            model_id=model_id,
            upload=upload,
            limit=10**8,
            runtime_parameters=runtime_parameters,
        )
        return version.number


def deploy(context: ServerContext, actor: Actor, space_id: str, model_id: str) -> str:
    with context.sessions() as session:
        described, _ = deployments.create(
            session, actor, space_id=space_id, new=NewDeployment(name="dep", kind=Kind.ONLINE, model_id=model_id)
        )
        lifecycle.deployed(session, deployment_id=described.deployment.id, version_id=described.version.id)
        session.commit()
        return described.deployment.id


@pytest.fixture
def team(context: ServerContext, alice: Actor, bob: Actor, model_files: ModelFiles, tmp_path: Path) -> dict[str, Any]:
    """alice (admin) deploys a classifier taking x1, x2, x3; bob is an editor, vic a viewer, eve an outsider."""
    roles = space_with_roles(context, alice, bob)
    add_version(context, alice, roles.model, model_files.classifier_named, tmp_path, PARAMETERS)
    deployment = deploy(context, alice, roles.space, roles.model)
    return {"space": roles.space, "model": roles.model, "deployment": deployment, "vic": roles.vic, "eve": roles.eve}


def read(context: ServerContext, actor: Actor, team: dict[str, Any]) -> DeploymentSettings:
    with context.sessions() as session:
        return deployments.get_settings(session, actor, deployment_id=team["deployment"])


def write(context: ServerContext, actor: Actor, team: dict[str, Any], changes: Any) -> DeploymentSettings:
    with context.sessions() as session:
        return deployments.update_settings(session, actor, deployment_id=team["deployment"], changes=changes)


# --- get and update --------------------------------------------------------------------------


def test_a_new_deployment_captures_and_has_everything_else_off(context: ServerContext, team: dict[str, Any]) -> None:
    found = read(context, team["vic"], team)
    assert found == DeploymentSettings()
    assert found.model_dump(mode="json") == {
        "prediction_intervals": {"enabled": False, "percentiles": []},
        "drift_tracking": {"target_drift_enabled": False, "feature_drift_enabled": False},
        "segment_analysis": {"enabled": False, "attributes": []},
        "challengers": {"enabled": False},
        "humility": {"enabled": False, "rules": []},
        "predictions_data_collection": {
            "enabled": True,
            "sampling_percent": 100.0,
            "retention_days": 30,
            "max_rows": 1_000_000,
        },
        "association_id": {"column_names": [], "required_in_prediction_requests": False},
        "replay": {"enabled": True, "rows": 1_000, "max_disagreement": 0.2},
        "challenger_replay": {"enabled": False, "schedule": None, "rows": 1_000},
    }


def test_an_editor_writes_and_a_viewer_reads(context: ServerContext, bob: Actor, team: dict[str, Any]) -> None:
    changed = write(context, bob, team, {"segment_analysis": {"enabled": True, "attributes": ["x1", "x3"]}})
    assert changed.segment_analysis.attributes == ["x1", "x3"]
    assert read(context, team["vic"], team) == changed


def test_a_viewer_may_not_write(context: ServerContext, alice: Actor, team: dict[str, Any]) -> None:
    with pytest.raises(PermissionDenied):
        write(context, team["vic"], team, {"challengers": {"enabled": True}})
    assert read(context, alice, team) == DeploymentSettings()


def test_a_non_member_sees_no_deployment(context: ServerContext, team: dict[str, Any]) -> None:
    with pytest.raises(DeploymentNotFound):
        read(context, team["eve"], team)
    with pytest.raises(DeploymentNotFound):
        write(context, team["eve"], team, {"challengers": {"enabled": True}})


def test_changes_merge_deeply_and_lists_are_replaced_whole(
    context: ServerContext, alice: Actor, team: dict[str, Any]
) -> None:
    write(context, alice, team, {"drift_tracking": {"target_drift_enabled": True}})
    write(context, alice, team, {"drift_tracking": {"feature_drift_enabled": True}})
    write(context, alice, team, {"segment_analysis": {"enabled": True, "attributes": ["x1", "x2"]}})
    merged = write(context, alice, team, {"segment_analysis": {"attributes": ["x3"]}})
    assert merged.drift_tracking.target_drift_enabled and merged.drift_tracking.feature_drift_enabled
    assert merged.segment_analysis.enabled and merged.segment_analysis.attributes == ["x3"]
    assert read(context, alice, team) == merged


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"prediction_intervals": {"percentiles": [0, 50]}}, "prediction_intervals.percentiles"),
        ({"prediction_intervals": {"percentiles": [50, 100]}}, "prediction_intervals.percentiles"),
        ({"prediction_intervals": {"percentiles": [50, 50]}}, "prediction_intervals.percentiles"),
        ({"drift_tracking": {"target_drift_enabled": "yes"}}, "drift_tracking.target_drift_enabled"),
        ({"challengers": {"enabled": True, "count": 2}}, "challengers.count"),
        ({"nonsense": {}}, "nonsense"),
        ({"segment_analysis": {"attributes": [""]}}, "segment_analysis.attributes"),
        ({"humility": {"rules": [{"name": "r", "trigger": "sometimes"}]}}, "humility.rules.0.trigger"),
        ({"humility": {"rules": [{"name": "r", "trigger": "outlying_input", "upper": 3}]}}, "humility.rules.0"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(
    context: ServerContext, alice: Actor, team: dict[str, Any], changes: dict[str, Any], field: str
) -> None:
    write(context, alice, team, {"challengers": {"enabled": True}})
    before = read(context, alice, team)
    with pytest.raises(InvalidInput) as error:
        write(context, alice, team, {"drift_tracking": {"feature_drift_enabled": True}, **changes})
    assert error.value.field == field
    assert read(context, alice, team) == before


def test_changes_must_be_an_object(context: ServerContext, alice: Actor, team: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        write(context, alice, team, ["challengers"])


def test_segment_analysis_only_on_features_the_champion_takes(
    context: ServerContext, alice: Actor, team: dict[str, Any]
) -> None:
    with pytest.raises(InvalidInput) as error:
        write(context, alice, team, {"segment_analysis": {"enabled": True, "attributes": ["x1", "region"]}})
    assert error.value.field == "segment_analysis.attributes"
    assert "region" in error.value.message and "x1" not in error.value.message
    assert read(context, alice, team) == DeploymentSettings()
    # Switched off, the attributes are kept for a later champion that takes them.
    kept = write(context, alice, team, {"segment_analysis": {"enabled": False, "attributes": ["region"]}})
    assert kept.segment_analysis.attributes == ["region"]


def test_humility_rules_only_watch_features_the_champion_takes(
    context: ServerContext, alice: Actor, team: dict[str, Any]
) -> None:
    rules = [
        {"name": "unsure", "trigger": "uncertain_prediction", "lower": 0.4, "upper": 0.6, "action": "throw_error"},
        {"name": "odd x1", "trigger": "outlying_input", "feature": "x1", "lower": -5, "upper": 5},
        {"name": "rare", "trigger": "low_observation_region", "feature": "x9", "observed_values": ["a"]},
    ]
    with pytest.raises(InvalidInput) as error:
        write(context, alice, team, {"humility": {"enabled": True, "rules": rules}})
    assert error.value.field == "humility.rules.2.feature" and "x9" in error.value.message
    changed = write(context, alice, team, {"humility": {"enabled": True, "rules": rules[:2]}})
    assert [r.name for r in changed.humility.rules] == ["unsure", "odd x1"]
    assert changed.humility.rules[1].lower == -5.0


def test_changed_rules_reach_every_process_through_the_follower(
    context: ServerContext, alice: Actor, team: dict[str, Any]
) -> None:
    # settings.update bumps the deployments counter, so a running follower rebuilds its views
    # (the rules compiled against the champion) at its next tick: no restart.
    async def scenario() -> None:
        engine = ServingEngine()
        follower = Follower(context.sessions, engine, AccessCache(), context.store, process="test")
        await follower.sync(wait=True)
        view = engine.resolve(team["deployment"])
        assert view is not None and view.humility is None
        with context.sessions() as session:
            before = changes.read(session)[changes.Topic.DEPLOYMENTS]
        rule = {"name": "odd x2", "trigger": "outlying_input", "feature": "x2", "upper": 5, "action": "throw_error"}
        await asyncio.to_thread(write, context, alice, team, {"humility": {"enabled": True, "rules": [rule]}})
        with context.sessions() as session:
            assert changes.read(session)[changes.Topic.DEPLOYMENTS] == before + 1
        await follower.sync()
        view = engine.resolve(team["deployment"])
        assert view is not None and view.humility is not None
        (compiled,) = view.humility.rules
        assert (compiled.name, compiled.column, compiled.upper, compiled.action) == ("odd x2", 1, 5.0, "throw_error")
        await asyncio.to_thread(write, context, alice, team, {"humility": {"enabled": False}})
        await follower.sync()
        view = engine.resolve(team["deployment"])
        assert view is not None and view.humility is None
        await follower.stop()
        await engine.close()

    asyncio.run(scenario())


def test_prediction_intervals_need_a_regression_champion(
    context: ServerContext, alice: Actor, team: dict[str, Any], model_files: ModelFiles, tmp_path: Path
) -> None:
    with pytest.raises(InvalidInput) as error:
        write(context, alice, team, {"prediction_intervals": {"enabled": True, "percentiles": [80]}})
    assert error.value.field == "prediction_intervals.enabled"
    with context.sessions() as session:
        model = models.create_model(
            session,
            alice,
            space_id=team["space"],
            new=NewModel(name="r", type="scikit-learn_1.3", software_spec_id=CATALOGUE[0].id),
        )
    add_version(context, alice, model.id, model_files.regressor, tmp_path)
    regression = {"deployment": deploy(context, alice, team["space"], model.id)}
    changed = write(context, alice, regression, {"prediction_intervals": {"enabled": True, "percentiles": [10, 90]}})
    assert changed.prediction_intervals.percentiles == [10, 90]


def test_settings_go_with_their_deployment(context: ServerContext, alice: Actor, team: dict[str, Any]) -> None:
    write(context, alice, team, {"challengers": {"enabled": True}})
    with context.sessions() as session:
        deployments.delete(session, alice, deployment_id=team["deployment"])
    with context.sessions() as session:
        assert settings.stored(session, deployment_id=team["deployment"]) == DeploymentSettings()
        assert settings.stored_runtime_values(session, deployment_id=team["deployment"]) == {}


# --- runtime parameters ------------------------------------------------------------------------


def test_a_version_keeps_the_runtime_parameters_it_declares(
    context: ServerContext, alice: Actor, team: dict[str, Any]
) -> None:
    with context.sessions() as session:
        version = models.get_version(session, alice, model_id=team["model"], number=1)
        assert [d.field_name for d in from_stored(version.runtime_parameters)] == ["threshold", "greeting", "verbose"]
        assert version.runtime_parameters[0] == {
            "fieldName": "threshold",
            "type": "numeric",
            "defaultValue": 0.5,
            "allowEmpty": True,
            "minValue": 0,
            "maxValue": 1,
        }
        assert deployments.runtime_values_of(session, team["vic"], deployment_id=team["deployment"]) == {
            "threshold": 0.5,
            "greeting": "hello",
            "verbose": False,
        }


def test_a_version_without_runtime_parameters_stores_none(
    context: ServerContext, alice: Actor, team: dict[str, Any], model_files: ModelFiles, tmp_path: Path
) -> None:
    number = add_version(context, alice, team["model"], model_files.classifier_named, tmp_path)
    with context.sessions() as session:
        assert models.get_version(session, alice, model_id=team["model"], number=number).runtime_parameters is None


@pytest.mark.parametrize(
    ("definitions", "field"),
    [
        ([{"fieldName": "a", "type": "date"}], "runtime_parameters.0.type"),
        ([{"fieldName": "a b", "type": "string"}], "runtime_parameters.0.fieldName"),
        ([{"fieldName": "a", "type": "string", "minValue": 1}], "runtime_parameters.0"),
        ([{"fieldName": "a", "type": "numeric", "minValue": 2, "maxValue": 1}], "runtime_parameters.0"),
        ([{"fieldName": "a", "type": "numeric", "defaultValue": 5, "maxValue": 1}], "runtime_parameters.0"),
        ([{"fieldName": "a", "type": "boolean", "defaultValue": "yes"}], "runtime_parameters.0"),
        (
            [{"fieldName": "a", "type": "string"}, {"fieldName": "a", "type": "numeric"}],
            "runtime_parameters.1.fieldName",
        ),
        ([{"fieldName": "a", "type": "string", "color": "red"}], "runtime_parameters.0.color"),
    ],
)
def test_bad_runtime_parameter_definitions_add_no_version(
    context: ServerContext,
    alice: Actor,
    team: dict[str, Any],
    model_files: ModelFiles,
    tmp_path: Path,
    definitions: list[dict[str, Any]],
    field: str,
) -> None:
    with pytest.raises(InvalidInput) as error:
        add_version(context, alice, team["model"], model_files.classifier_named, tmp_path, definitions)
    assert error.value.field == field
    with context.sessions() as session:
        assert models.latest_version(session, model_id=team["model"]).number == 1  # type: ignore[union-attr]


def as_values(items: list[dict[str, Any]] | None) -> list[RuntimeValue]:
    """DataRobot-shaped entries as the domain takes them (the face parses `fieldName`, `type`, `value`)."""
    return [RuntimeValue(item["fieldName"], item.get("value"), item.get("type")) for item in items or []]


DEFINITIONS = parse_definitions([*PARAMETERS, {"fieldName": "token", "type": "string", "allowEmpty": False}])


def test_merge_takes_given_values_then_existing_then_defaults() -> None:
    merged = merge(
        DEFINITIONS,
        {"greeting": "hi", "retired": 7, "token": "old"},
        as_values([{"fieldName": "threshold", "type": "numeric", "value": 0.9}]),
    )
    assert merged == {"threshold": 0.9, "greeting": "hi", "verbose": False, "token": "old"}


def test_merge_without_anything_given_uses_the_defaults() -> None:
    definitions = parse_definitions(PARAMETERS)
    assert merge(definitions, {}, as_values([])) == {"threshold": 0.5, "greeting": "hello", "verbose": False}
    assert merge([], {"old": 1}, as_values([])) == {}


@pytest.mark.parametrize(
    ("given", "existing", "name", "words"),
    [
        ([{"fieldName": "colour", "type": "string", "value": "red"}], {}, "colour", "declares no runtime parameter"),
        ([{"fieldName": "threshold", "type": "string", "value": "0.9"}], {}, "threshold", "numeric, not string"),
        ([{"fieldName": "threshold", "value": "0.9"}], {}, "threshold", "expected a finite number"),
        ([{"fieldName": "threshold", "value": True}], {}, "threshold", "expected a finite number"),
        ([{"fieldName": "threshold", "value": 1.5}], {}, "threshold", "above the maximum"),
        ([{"fieldName": "threshold", "value": -1}], {}, "threshold", "below the minimum"),
        ([{"fieldName": "verbose", "value": "true"}], {}, "verbose", "expected true or false"),
        ([{"fieldName": "verbose", "value": None}], {}, "verbose", "a value is required"),
        ([{"fieldName": "greeting", "value": 3}], {}, "greeting", "expected a string"),
        ([{"fieldName": "greeting", "value": "a"}, {"fieldName": "greeting", "value": "b"}], {}, "greeting", "twice"),
        ([{"fieldName": "token", "value": ""}], {}, "token", "a value is required"),
        ([], {"threshold": 0.1}, "token", "requires a value and declares no default"),
        ([], {"token": "t", "threshold": 3}, "threshold", "does not fit the new model"),
    ],
)
def test_merge_refuses_bad_values_naming_the_parameter(
    given: list[dict[str, Any]], existing: dict[str, Any], name: str, words: str
) -> None:
    with pytest.raises(InvalidInput) as error:
        merge(DEFINITIONS, existing, as_values(given))
    assert words in error.value.message
    assert error.value.field == f"runtime_parameter_values.{name}"


def test_empty_values_are_allowed_unless_the_definition_says_otherwise() -> None:
    optional = RuntimeParameterDefinition(field_name="note", type="string")
    assert merge([optional], {}, as_values([])) == {"note": None}
    assert merge([optional], {}, as_values([{"fieldName": "note", "value": ""}])) == {"note": ""}


# --- creating a deployment with runtime values and settings ------------------------------------


def rows(context: ServerContext) -> tuple[int, ...]:
    with context.sessions() as session:
        tables = (Deployment, Operation, DeploymentSettingsRow)
        return tuple(session.scalar(select(func.count()).select_from(t)) or 0 for t in tables)


def create(
    context: ServerContext, actor: Actor, team: dict[str, Any], *, rev: int = 1, **options: Any
) -> deployments.Described:
    with context.sessions() as session:
        new = NewDeployment(name="another", kind=Kind.ONLINE, model_id=team["model"], rev=rev)
        described, _ = deployments.create(session, actor, space_id=team["space"], new=new, **options)
        return described


def test_a_new_deployment_stores_its_versions_defaults_in_the_same_commit(
    context: ServerContext, team: dict[str, Any]
) -> None:
    with context.sessions() as session:  # the team's deployment was created without values
        assert settings.stored_runtime_values(session, deployment_id=team["deployment"]) == {
            "threshold": 0.5,
            "greeting": "hello",
            "verbose": False,
        }
        assert settings.stored(session, deployment_id=team["deployment"]) == DeploymentSettings()


def test_given_values_and_settings_are_kept_with_the_new_deployment(
    context: ServerContext, bob: Actor, team: dict[str, Any]
) -> None:
    described = create(
        context,
        bob,
        team,
        runtime_parameter_values=as_values([{"fieldName": "threshold", "type": "numeric", "value": 0.8}]),
        settings={"segment_analysis": {"enabled": True, "attributes": ["x2"]}},
    )
    with context.sessions() as session:  # a new session: all of it was committed
        assert settings.stored_runtime_values(session, deployment_id=described.deployment.id) == {
            "threshold": 0.8,
            "greeting": "hello",
            "verbose": False,
        }
        found = settings.stored(session, deployment_id=described.deployment.id)
    assert found.segment_analysis.attributes == ["x2"] and found.drift_tracking == DeploymentSettings().drift_tracking


def test_a_required_runtime_parameter_without_a_value_creates_nothing(
    context: ServerContext, alice: Actor, team: dict[str, Any], model_files: ModelFiles, tmp_path: Path
) -> None:
    required = [*PARAMETERS, {"fieldName": "token", "type": "string", "allowEmpty": False}]
    rev = add_version(context, alice, team["model"], model_files.classifier_named, tmp_path, required)
    before = rows(context)
    for values in (None, [], [{"fieldName": "token", "value": ""}], [{"fieldName": "token", "value": None}]):
        with pytest.raises(InvalidInput) as error:
            create(context, alice, team, rev=rev, runtime_parameter_values=as_values(values))
        assert error.value.field == "runtime_parameter_values.token"
    assert rows(context) == before

    described = create(
        context, alice, team, rev=rev, runtime_parameter_values=as_values([{"fieldName": "token", "value": "t"}])
    )
    with context.sessions() as session:
        assert settings.stored_runtime_values(session, deployment_id=described.deployment.id)["token"] == "t"


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"runtime_parameter_values": [RuntimeValue("threshold", 2)]}, "runtime_parameter_values.threshold"),
        ({"runtime_parameter_values": [RuntimeValue("colour", "red")]}, "runtime_parameter_values.colour"),
        ({"settings": {"segment_analysis": {"enabled": True, "attributes": ["x9"]}}}, "segment_analysis.attributes"),
        ({"settings": {"prediction_intervals": {"enabled": True}}}, "prediction_intervals.enabled"),
        ({"settings": {"challengers": {"enabled": "yes"}}}, "challengers.enabled"),
    ],
)
def test_bad_values_or_settings_create_nothing(
    context: ServerContext, alice: Actor, team: dict[str, Any], options: dict[str, Any], field: str
) -> None:
    before = rows(context)
    with pytest.raises(InvalidInput) as error:
        create(context, alice, team, **options)
    assert error.value.field == field
    assert rows(context) == before


def test_a_version_without_runtime_parameters_needs_no_settings_row(
    context: ServerContext, alice: Actor, team: dict[str, Any], model_files: ModelFiles, tmp_path: Path
) -> None:
    rev = add_version(context, alice, team["model"], model_files.classifier_named, tmp_path)
    before = rows(context)
    create(context, alice, team, rev=rev)
    assert rows(context) == (before[0] + 1, before[1] + 1, before[2])  # no row means every default


# --- replacement and settings together ----------------------------------------------------------


@pytest.fixture(scope="module")
def variants(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_variants(tmp_path_factory.mktemp("variants"))


def test_a_tracked_segment_attribute_the_candidate_lacks_fails_its_check(
    context: ServerContext, alice: Actor, team: dict[str, Any], tmp_path: Path, variants: dict[str, Path]
) -> None:
    write(context, alice, team, {"segment_analysis": {"enabled": True, "attributes": ["x3"]}})
    add_version(context, alice, team["model"], variants["fewer_features"], tmp_path)
    with context.sessions() as session:
        report = replacement.check(
            session, alice, context.store, deployment_id=team["deployment"], model_id=team["model"], rev=2
        )
    (tracked,) = [c for c in report.checks if c.name == "containsTrackedSegmentAttributes"]
    assert tracked.status == "failing" and "x3" in tracked.message
    assert "containsTrackedSegmentAttributes" in report.message


CANDIDATE_PARAMETERS = [
    {"fieldName": "threshold", "type": "numeric", "defaultValue": 0.2, "minValue": 0, "maxValue": 1},
    {"fieldName": "greeting", "type": "string", "defaultValue": "hej"},
    {"fieldName": "mode", "type": "string", "allowEmpty": False},
]


def start_with_values(
    context: ServerContext, actor: Actor, team: dict[str, Any], values: list[dict[str, Any]] | None
) -> replacement.Started:
    with context.sessions() as session:
        return replacement.start(
            session,
            actor,
            context.store,
            deployment_id=team["deployment"],
            model_id=team["model"],
            rev=2,
            runtime_parameter_values=as_values(values),
        )


def run_swap(context: ServerContext, started: replacement.Started, *, fails: bool) -> None:
    """Run the replace handler as the only live process, which has prepared the candidate (or failed to)."""
    deployment, candidate = (
        started.described.deployment.id,
        ReplacePayload.model_validate(started.operation.payload).to_version_id,
    )
    report = (
        cluster.Report(errors={deployment: {"version": candidate, "message": "no memory left"}})
        if fails
        else cluster.Report(serving={deployment: candidate}, prepared={deployment: candidate})
    )
    with context.sessions() as session:
        cluster.publish(session, process="only", report=report)

    async def committed() -> None:
        return None

    handler = ReplaceHandler(sessions=context.sessions, process="only", timeout=5, committed=committed)
    asyncio.run(handler(started.operation))


def values_now(context: ServerContext, actor: Actor, team: dict[str, Any]) -> dict[str, Any]:
    with context.sessions() as session:
        return deployments.runtime_values_of(session, actor, deployment_id=team["deployment"])


def test_bad_runtime_values_refuse_the_replacement_and_write_nothing(
    context: ServerContext, alice: Actor, team: dict[str, Any], tmp_path: Path, variants: dict[str, Path]
) -> None:
    add_version(context, alice, team["model"], variants["retrained"], tmp_path, CANDIDATE_PARAMETERS)
    for values, name in [
        (None, "mode"),
        ([{"fieldName": "mode", "value": "fast"}, {"fieldName": "verbose", "value": True}], "verbose"),
        ([{"fieldName": "mode", "value": "fast"}, {"fieldName": "threshold", "value": 2}], "threshold"),
    ]:
        with pytest.raises(InvalidInput) as error:
            start_with_values(context, alice, team, values)
        assert error.value.field == f"runtime_parameter_values.{name}"
    with context.sessions() as session:
        described = deployments.get(session, alice, deployment_id=team["deployment"])
        assert described.deployment.state == "ready" and described.version.number == 1
        assert replacement.history(session, alice, deployment_id=team["deployment"]) == []


def test_runtime_values_are_stored_with_a_successful_swap_only(
    context: ServerContext, alice: Actor, team: dict[str, Any], tmp_path: Path, variants: dict[str, Path]
) -> None:
    add_version(context, alice, team["model"], variants["retrained"], tmp_path, CANDIDATE_PARAMETERS)
    before = values_now(context, alice, team)
    assert before == {"threshold": 0.5, "greeting": "hello", "verbose": False}
    given = [{"fieldName": "mode", "type": "string", "value": "fast"}, {"fieldName": "threshold", "value": 0.7}]

    failed = start_with_values(context, alice, team, given)
    # The greeting the deployment was created with (its first version's default, stored then) is the
    # deployment's value, so it wins over the candidate's default, as any value in force does.
    assert ReplacePayload.model_validate(failed.operation.payload).runtime_values == {
        "threshold": 0.7,
        "greeting": "hello",
        "mode": "fast",
    }
    assert values_now(context, alice, team) == before  # not before the swap
    run_swap(context, failed, fails=True)
    assert values_now(context, alice, team) == before  # nor after a failed one

    succeeded = start_with_values(context, alice, team, given)
    run_swap(context, succeeded, fails=False)
    with context.sessions() as session:
        assert deployments.get(session, alice, deployment_id=team["deployment"]).version.number == 2
    assert values_now(context, team["vic"], team) == {"threshold": 0.7, "greeting": "hello", "mode": "fast"}

    # The next replacement keeps the values the new candidate still declares, and fills the rest.
    add_version(
        context, alice, team["model"], variants["retrained"], tmp_path, [*CANDIDATE_PARAMETERS[1:], PARAMETERS[2]]
    )
    with context.sessions() as session:
        third = replacement.start(
            session, alice, context.store, deployment_id=team["deployment"], model_id=team["model"], rev=3
        )
    assert ReplacePayload.model_validate(third.operation.payload).runtime_values == {
        "greeting": "hello",
        "mode": "fast",
        "verbose": False,
    }
