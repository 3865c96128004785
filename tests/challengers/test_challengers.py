"""Challengers on a live in-process server: added with their checks, replayed over captured traffic, compared.

The champion answers 200 captured rows carrying association ids, half of which get actuals. Three
challengers replay them: a sound retrain (agrees mostly, accuracy beside the champion's), a flipped
model (disagrees everywhere) and one that fails on negative inputs (its failures counted).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from champion.challengers import replay as replays
from champion.challengers import schedule
from champion.challengers import service as challengers
from champion.challengers.errors import ReplayRunning, TooManyChallengers
from champion.deployments.settings import Schedule
from champion.errors import InvalidInput, PermissionDenied
from champion.monitoring import service as monitoring
from champion.monitoring.types import ActualIn
from champion.operations import service as operations
from champion.users.service import Actor
from tests.api.test_humility import ready
from tests.api.test_wml_deployments import V, upload_model
from tests.api.test_wml_routes import Server, serving
from tests.model_files import FEATURES, ModelFiles, training_data
from tests.replacement.test_replay import flipped, model_bytes, square_rooting


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("challengers-home"), "alice", "bob", capture_flush_seconds=0.2) as server:
        yield server


def actor(server: Server, name: str = "alice") -> Actor:
    return Actor(user_id=server.ids[name], name=name, is_admin=False)


@pytest.fixture(scope="module")
def live(server: Server, model_files: ModelFiles) -> dict[str, Any]:
    space: str = server.call("POST", "/v2/spaces", json={"name": "arena"}).json()["metadata"]["id"]
    members = {"members": [{"id": server.ids["bob"], "type": "user", "role": "viewer"}]}
    assert server.call("POST", f"/v2/spaces/{space}/members", json=members).status_code == 200
    champion = upload_model(server, space, model_files.classifier_named.read_bytes(), name="champion")
    deployment_id = ready(server, space, champion, "arena")
    url = f"/ml/v4/deployments/{deployment_id}/settings"
    body = {"association_id": {"column_names": ["id"]}, "challengers": {"enabled": True}}
    assert server.call("PATCH", url, params={**V, "space_id": space}, json=body).status_code == 200
    time.sleep(0.5)  # the follower compiles the association id column into the view
    rows = np.random.default_rng(11).normal(size=(200, 3))
    values = [[f"r{i}", *row] for i, row in enumerate(rows.tolist())]
    response = server.call(
        "POST",
        f"/ml/v4/deployments/{deployment_id}/predictions",
        json={"input_data": [{"fields": ["id", *FEATURES], "values": values}]},
    )
    assert response.status_code == 200, response.text
    server.client.app.state.capture_writer.flush_now()
    truth = (rows[:, 0] > 0).astype(int)
    with server.context.sessions() as session:
        actuals = [ActualIn(association_id=f"r{i}", value=int(truth[i])) for i in range(0, 200, 2)]
        monitoring.submit_actuals(session, actor(server), deployment_id=deployment_id, actuals=actuals)
    frame, labels = training_data(seed=4)
    versions = {
        "retrained": upload_model(server, space, model_bytes(LogisticRegression(C=0.5).fit(frame, labels)), "r"),
        "flipped": upload_model(server, space, model_bytes(flipped()), "f"),
        "rooting": upload_model(server, space, model_bytes(square_rooting()), "s"),
        "regressor": upload_model(server, space, model_files.regressor.read_bytes(), "g"),
    }
    return {"space": space, "deployment": deployment_id, "champion": champion, "models": versions}


def version_of(server: Server, model_id: str) -> str:
    from champion.models import service as models

    with server.context.sessions() as session:
        version = models.latest_version(session, model_id=model_id)
        assert version is not None
        return version.id


def wait_for(server: Server, operation_id: str) -> str:
    deadline = time.monotonic() + 60
    while True:
        with server.context.sessions() as session:
            state = operations.get(session, operation_id=operation_id).state
        if state in ("succeeded", "failed"):
            return state
        assert time.monotonic() < deadline, "the replay never ended"
        time.sleep(0.1)


def test_challengers_replay_captured_traffic_and_compare_with_the_champion(
    server: Server, live: dict[str, Any]
) -> None:
    with server.context.sessions() as session:
        for name in ("retrained", "flipped", "rooting"):
            challengers.add(
                session,
                actor(server),
                server.context.store,
                deployment_id=live["deployment"],
                version_id=version_of(server, live["models"][name]),
                name=name,
            )
        with pytest.raises(PermissionDenied):
            challengers.start_replay(session, actor(server, "bob"), deployment_id=live["deployment"])
        _, operation = challengers.start_replay(session, actor(server), deployment_id=live["deployment"])
        with pytest.raises(ReplayRunning):
            challengers.start_replay(session, actor(server), deployment_id=live["deployment"])
    assert wait_for(server, operation.id) == "succeeded"
    with server.context.sessions() as session:
        found = {
            c.challenger.name: c
            for c in challengers.listed(session, actor(server, "bob"), deployment_id=live["deployment"])
        }
    retrained, flipped_one, rooting = found["retrained"].result, found["flipped"].result, found["rooting"].result
    assert retrained is not None and flipped_one is not None and rooting is not None
    assert retrained.rows == 200 and retrained.failed_rows == 0 and retrained.agreement is not None
    assert retrained.agreement > 0.8
    assert flipped_one.agreement is not None and flipped_one.agreement < 0.2
    assert rooting.failed_rows > 0 and rooting.first_error and "NaN" in rooting.first_error
    assert retrained.actual_rows == 100
    assert set(retrained.accuracy) >= {"Accuracy", "AUC"}, (retrained.accuracy, retrained.champion_accuracy)
    assert retrained.accuracy["Accuracy"] is not None
    assert retrained.champion_accuracy["Accuracy"] is not None
    assert flipped_one.accuracy["Accuracy"] < retrained.accuracy["Accuracy"]


def test_what_a_challenger_may_not_be(server: Server, live: dict[str, Any]) -> None:
    deployment = live["deployment"]
    with server.context.sessions() as session:

        def add(model_id: str, who: str = "alice") -> None:
            challengers.add(
                session,
                actor(server, who),
                server.context.store,
                deployment_id=deployment,
                version_id=version_of(server, model_id),
            )

        with pytest.raises(InvalidInput, match="champion"):
            add(live["champion"])
        with pytest.raises(InvalidInput, match="same kind of target"):
            add(live["models"]["regressor"])
        with pytest.raises(PermissionDenied):
            add(live["models"]["retrained"], "bob")
        count = len(challengers.listed(session, actor(server), deployment_id=deployment))
        frame, labels = training_data(seed=20)
        extra = [
            upload_model(server, live["space"], model_bytes(LogisticRegression(C=c).fit(frame, labels)), f"x{c}")
            for c in (0.1, 0.2, 0.3)
        ]
        for model_id in extra[: challengers.MAX_CHALLENGERS - count]:
            add(model_id)
        with pytest.raises(TooManyChallengers):
            add(extra[-1])


def test_the_schedule_starts_one_replay_per_due_minute(server: Server, live: dict[str, Any]) -> None:
    url = f"/ml/v4/deployments/{live['deployment']}/settings"
    every_minute = {"minute": ["*"], "hour": ["*"], "day_of_month": ["*"], "month": ["*"], "day_of_week": ["*"]}
    body = {"challenger_replay": {"enabled": True, "schedule": every_minute}}
    assert server.call("PATCH", url, params={**V, "space_id": live["space"]}, json=body).status_code == 200
    scheduler = replays.ReplayScheduler(server.context.sessions)
    started = scheduler.tick()
    assert started == [live["deployment"]]
    assert scheduler.tick() == []  # running, or done for this minute
    body = {"challenger_replay": {"enabled": False}}
    assert server.call("PATCH", url, params={**V, "space_id": live["space"]}, json=body).status_code == 200


def test_schedules_match_as_cron_does() -> None:
    nightly = Schedule(minute=[0], hour=[2], day_of_month=["*"], month=["*"], day_of_week=["*"])
    assert schedule.matches(nightly, dt.datetime(2026, 12, 7, 2, 0, tzinfo=dt.UTC))
    assert not schedule.matches(nightly, dt.datetime(2026, 12, 7, 2, 1, tzinfo=dt.UTC))
    mondays = Schedule(minute=[30], hour=[9], day_of_month=["*"], month=["dec"], day_of_week=["Monday"])
    assert schedule.matches(mondays, dt.datetime(2026, 12, 7, 9, 30, tzinfo=dt.UTC))  # a Monday in December
    assert not schedule.matches(mondays, dt.datetime(2026, 12, 8, 9, 30, tzinfo=dt.UTC))
    either = Schedule(minute=[0], hour=[0], day_of_month=[1], month=["*"], day_of_week=[0])
    assert schedule.matches(either, dt.datetime(2026, 12, 1, 0, 0, tzinfo=dt.UTC))  # the 1st (a Tuesday)
    assert schedule.matches(either, dt.datetime(2026, 12, 6, 0, 0, tzinfo=dt.UTC))  # a Sunday
    assert not schedule.matches(either, dt.datetime(2026, 12, 7, 0, 0, tzinfo=dt.UTC))
    now = dt.datetime(2026, 12, 7, 13, 17, 42, tzinfo=dt.UTC)
    assert schedule.latest(nightly, now) == dt.datetime(2026, 12, 7, 2, 0, tzinfo=dt.UTC)
    yearly = Schedule(minute=[0], hour=[0], day_of_month=[1], month=[1], day_of_week=["*"])
    assert schedule.latest(yearly, now) is None  # more than a day ago: missed, not run late


def test_validating_a_challenger_as_the_candidate_names_it(server: Server, live: dict[str, Any]) -> None:
    url = f"/ml/v4/deployments/{live['deployment']}/validation"
    body = {"asset": {"id": live["models"]["retrained"]}}
    response = server.call("POST", url, params={**V, "space_id": live["space"]}, json=body)
    assert response.status_code == 200, response.text
    checks = {c["name"]: c for c in response.json()["checks"]}
    assert "It is the challenger 'retrained'" in checks["validChallenger"]["message"]
