"""The challengers section of the Monitoring page in-process: real replays laid out, and every action.

The champion answers 200 rows carrying association ids (captured and flushed by hand), half of
which get actuals. Challengers are added, replayed and removed through the page's own forms, and
each figure on the page is compared with what `challengers.service` stored for the replay.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from markupsafe import escape
from sklearn.linear_model import LogisticRegression

from champion.challengers import service as challengers
from champion.challengers.replay import ReplayHandler
from champion.challengers.service import MAX_CHALLENGERS, Compared
from champion.challengers.tables import ChallengerReplay
from champion.db import utcnow
from champion.deployments.tables import Deployment
from champion.models import service as models
from champion.monitoring import service as monitoring
from champion.monitoring.types import ActualIn
from champion.operations import service as operations
from champion.operations.types import OperationKind, OperationState
from champion.ui import challengers as ui_challengers
from champion.ui.challengers import share
from champion.ui.monitoring import figure, milliseconds
from champion.users.service import Actor
from tests.api.test_humility import ready
from tests.api.test_wml_deployments import upload_model
from tests.api.test_wml_routes import Server, serving
from tests.model_files import FEATURES, ModelFiles, training_data
from tests.monitoring.test_capture_flow import flush, score, settings, until_policy
from tests.replacement.test_replay import flipped, model_bytes, square_rooting
from tests.ui.conftest import csrf_of, sign_in

ODD = '<img src=x onerror="alert(1)">&co'
"""A name that is markup: it must reach the page as text."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("ui-challengers"), "alice", "bob", "carol", capture_flush_seconds=3600) as s:
        yield s


def alice(server: Server) -> Actor:
    return Actor(user_id=server.ids["alice"], name="alice", is_admin=False)


@pytest.fixture(scope="module")
def space(server: Server, model_files: ModelFiles) -> dict[str, str]:
    """alice is admin, bob a viewer, carol no member; the models every test chooses from."""
    space_id: str = server.call("POST", "/v2/spaces", json={"name": "arena"}).json()["metadata"]["id"]
    members = {"members": [{"id": server.ids["bob"], "type": "user", "role": "viewer"}]}
    assert server.call("POST", f"/v2/spaces/{space_id}/members", json=members).status_code == 200
    frame, labels = training_data(seed=4)
    return {
        "space": space_id,
        "champion": upload_model(server, space_id, model_files.classifier_named.read_bytes(), name="champion"),
        "retrained": upload_model(
            server, space_id, model_bytes(LogisticRegression(C=0.5).fit(frame, labels)), "retrained"
        ),
        "flipped": upload_model(server, space_id, model_bytes(flipped()), ODD),
        "regressor": upload_model(server, space_id, model_files.regressor.read_bytes(), "regressor"),
    }


def version_id(server: Server, model_id: str) -> str:
    with server.context.sessions() as session:
        version = models.latest_version(session, model_id=model_id)
        assert version is not None
        return version.id


def captured(server: Server, space: dict[str, str], name: str) -> str:
    """A ready deployment of the champion with 200 captured rows, half of them with actuals."""
    deployment_id = ready(server, space["space"], space["champion"], name)
    settings(server, space["space"], deployment_id, {"association_id": {"column_names": ["id"]}})
    until_policy(server, deployment_id, lambda policy: policy.association_column == "id")
    rows = np.random.default_rng(11).normal(size=(200, 3))
    values = [[f"r{i}", *row] for i, row in enumerate(rows.round(4).tolist())]
    assert score(server, deployment_id, ["id", *FEATURES], values).status_code == 200
    flush(server)
    truth = (rows[:, 0] > 0).astype(int)
    with server.context.sessions() as session:
        actuals = [ActualIn(association_id=f"r{i}", value=int(truth[i])) for i in range(0, 200, 2)]
        monitoring.submit_actuals(session, alice(server), deployment_id=deployment_id, actuals=actuals)
    return deployment_id


def page_of(server: Server, deployment_id: str, **query: str) -> str:
    response = server.client.get(f"/ui/deployments/{deployment_id}/monitoring", params=query)
    assert response.status_code == 200, response.text
    html: str = response.text
    return html


def section_of(html: str) -> str:
    found = re.search(r'<section class="card" id="challengers".*?</section>', html, re.S)
    assert found, html
    return found.group(0)


def row_of(html: str, challenger_id: str) -> str:
    """The table row of a challenger (or the champion's, for "champion")."""
    marker = "data-champion" if challenger_id == "champion" else f'data-challenger="{challenger_id}"'
    found = re.search(rf"<tr [^>]*{marker}[^>]*>(.*?)</tr>", html, re.S)
    assert found, html
    return found.group(1)


def cells(row: str) -> list[str]:
    """The row's cells as text (tags dropped, whitespace squeezed), the row header first."""
    found = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", cell).split()) for cell in found]


def add(server: Server, deployment_id: str, version: str, name: str = "") -> httpx.Response:
    data = {"version_id": version, "name": name, "csrf_token": csrf_of(server, "/ui/spaces")}
    response: httpx.Response = server.client.post(
        f"/ui/deployments/{deployment_id}/challengers", data=data, follow_redirects=False
    )
    return response


def post(server: Server, path: str, *, token: bool = True, fragment: bool = False) -> httpx.Response:
    """A form with the session's CSRF token (or none); as ui.js sends it (a fragment request) or as a browser does."""
    data = {"csrf_token": csrf_of(server, "/ui/spaces")} if token else {}
    headers = {"X-Champion-Fragment": "1"} if fragment else {}
    response: httpx.Response = server.client.post(path, data=data, headers=headers, follow_redirects=False)
    return response


def listed(server: Server, deployment_id: str) -> dict[str, Compared]:
    with server.context.sessions() as session:
        found = challengers.listed(session, alice(server), deployment_id=deployment_id)
    return {c.challenger.id: c for c in found}


def wait_for(server: Server, operation_id: str) -> str:
    deadline = time.monotonic() + 60
    while True:
        with server.context.sessions() as session:
            state = operations.get(session, operation_id=operation_id).state
        if state in ("succeeded", "failed"):
            return state
        assert time.monotonic() < deadline, "the replay never ended"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def compared(server: Server, space: dict[str, str]) -> dict[str, Any]:
    """A deployment with two challengers added through the page and one replay asked for by it."""
    deployment_id = captured(server, space, "compared")
    sign_in(server, "alice")
    added = {}
    for key, name in (("retrained", ""), ("flipped", ODD)):
        response = add(server, deployment_id, version_id(server, space[key]), name)
        assert response.status_code == 303, response.text
        location = response.headers["location"]
        assert location.startswith(f"/ui/deployments/{deployment_id}/monitoring?challenger=")
        assert location.endswith("#challengers")
        added[key] = location.split("challenger=")[1].split("#")[0]
    before = page_of(server, deployment_id)
    replay = post(server, f"/ui/deployments/{deployment_id}/challengers/replay")
    assert replay.status_code == 303, replay.text
    operation_id = replay.headers["location"].split("replay=")[1].split("#")[0]
    assert wait_for(server, operation_id) == "succeeded"
    return {"deployment": deployment_id, "ids": added, "operation": operation_id, "before": before}


def test_added_challengers_wait_for_their_first_replay(server: Server, compared: dict[str, Any]) -> None:
    html = section_of(compared["before"])
    ids = compared["ids"]
    # Named after the model and revision by default, or as the editor chose.
    assert "<strong>retrained revision 1</strong>" in row_of(html, ids["retrained"])
    for challenger_id in ids.values():
        assert "Not replayed yet" in row_of(html, challenger_id)
    assert "No replay has compared them yet." in html
    # The page the add went to marks the challenger just added.
    sign_in(server, "alice")
    marked = page_of(server, compared["deployment"], challenger=ids["flipped"])
    assert f'<tr data-challenger="{ids["flipped"]}" class="chosen">' in marked
    assert f'<tr data-challenger="{ids["retrained"]}" >' in marked


def test_the_table_shows_the_replay_beside_the_champion(server: Server, compared: dict[str, Any]) -> None:
    sign_in(server, "alice")
    deployment_id, ids = compared["deployment"], compared["ids"]
    html = section_of(page_of(server, deployment_id, replay=compared["operation"]))
    found = listed(server, deployment_id)
    retrained, flipped_one = found[ids["retrained"]], found[ids["flipped"]]
    assert retrained.result is not None and flipped_one.result is not None and retrained.replay is not None
    # The replay asked for has ended, and says what it did.
    assert "<strong>Replay finished:</strong> replayed 200 captured rows through 2 challengers." in html
    assert "data-replay=" not in html
    ended = retrained.replay.finished_at
    assert f"Figures of the replay of 200 captured rows that ended {ended:%Y-%m-%d %H:%M:%S} UTC." in html
    # The champion's row: its model, the rows replayed, and that it is what the others are compared with.
    champion = cells(row_of(html, "champion"))
    assert champion[:2] == ["Champion champion — revision 1", "200"]
    assert champion[2].startswith("The reference") and champion[3] == f"{ended:%Y-%m-%d %H:%M:%S} UTC"
    assert "The deployment was replaced since" not in html
    # Each challenger's row: the stored figures, formatted as the page formats them.
    for compared_one, model in ((retrained, "retrained"), (flipped_one, escape(ODD))):
        result = compared_one.result
        assert result is not None
        row = cells(row_of(html, compared_one.challenger.id))
        assert row[0].endswith(f"{model} — revision 1")
        assert row[1:] == [
            "200",
            "0",
            share(result.agreement),
            figure(result.difference),
            milliseconds(result.seconds_per_row),
            f"{figure(result.accuracy['Accuracy'])} 100 rows",
            figure(result.champion_accuracy["Accuracy"]),
            f"{ended:%Y-%m-%d %H:%M:%S} UTC",
            "Replace with this challenger Remove",
        ]
    assert retrained.result.agreement is not None and retrained.result.agreement > 0.8
    assert flipped_one.result.agreement is not None and flipped_one.result.agreement < 0.2
    assert "Probability difference" in html and "Agreement with the champion" in html
    # Every figure, under the table: the challenger's beside the champion's on the same rows.
    assert "Every accuracy figure of the last replay" in html
    assert f'<td>AUC</td><td class="num">{figure(retrained.result.accuracy.get("AUC"))}</td>' in html


def test_a_failing_challenger_shows_its_failed_rows_and_first_error(server: Server, space: dict[str, str]) -> None:
    deployment_id = captured(server, space, "failing")
    rooting = upload_model(server, space["space"], model_bytes(square_rooting()), "rooting")
    sign_in(server, "alice")
    assert add(server, deployment_id, version_id(server, rooting)).status_code == 303
    replay = post(server, f"/ui/deployments/{deployment_id}/challengers/replay")
    assert wait_for(server, replay.headers["location"].split("replay=")[1].split("#")[0]) == "succeeded"
    (only,) = listed(server, deployment_id).values()
    assert only.result is not None and only.result.failed_rows > 0 and only.result.first_error
    row = row_of(page_of(server, deployment_id), only.challenger.id)
    assert f'<span class="badge failing">{only.result.failed_rows:,} failed</span>' in row
    assert f"First error: {escape(only.result.first_error)}" in row


def test_a_replay_ending_while_the_page_is_drawn_is_never_shown_finished_without_its_figures(
    server: Server, space: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page reads the replay's state and the challengers' figures in separate queries; the replay
    ends (the real handler, one commit) between the two. The page must then either say it is still
    running (and ui.js reloads it) or say it has finished and show the figures, never "finished" beside
    "Not replayed yet" (which a browser test once caught, and nothing would ever have reloaded)."""
    deployment_id = captured(server, space, "racing")
    sign_in(server, "alice")
    assert add(server, deployment_id, version_id(server, space["retrained"])).status_code == 303
    (challenger_id,) = listed(server, deployment_id)
    with server.context.sessions() as session:
        # Running for this server's own runner, so that only this test ends it.
        deployment = session.get(Deployment, deployment_id)
        assert deployment is not None
        operation = operations.create(
            session,
            kind=OperationKind.CHALLENGER_REPLAY,
            space_id=deployment.space_id,
            target_id=deployment_id,
            created_by=server.ids["alice"],
        )
        operation.state, operation.started_at = OperationState.RUNNING.value, utcnow()
        operation.runner = server.client.app.state.runner.name  # type: ignore[attr-defined]
        session.flush()
        replay = ChallengerReplay(
            deployment_id=deployment_id,
            operation_id=operation.id,
            champion_version_id=deployment.version_id,
            state="running",
        )
        session.add(replay)
        session.commit()
        operation_id = operation.id

    def end_the_replay() -> None:
        with server.context.sessions() as session:
            running = operations.get(session, operation_id=operation_id)
            if running.state == OperationState.RUNNING.value:
                ReplayHandler(server.context.sessions, server.context.store).run(running)

    def then_end(read: Callable[..., Any]) -> Callable[..., Any]:
        def reading(*args: Any, **kwargs: Any) -> Any:
            found = read(*args, **kwargs)
            end_the_replay()
            return found

        return reading

    monkeypatch.setattr(challengers, "listed", then_end(challengers.listed))
    monkeypatch.setattr(ui_challengers, "watched_replay", then_end(ui_challengers.watched_replay))
    html = section_of(page_of(server, deployment_id, replay=operation_id))
    monkeypatch.undo()
    assert wait_for(server, operation_id) == "succeeded"
    row = row_of(html, challenger_id)
    if "Replay finished" in html:
        assert "Not replayed yet" not in row and cells(row)[1] == "200", row
    else:
        assert "data-replay=" in html, html  # still running: ui.js asks after it and loads the page again


def test_markup_in_names_is_shown_as_text(server: Server, compared: dict[str, Any]) -> None:
    sign_in(server, "alice")
    html = page_of(server, compared["deployment"])
    assert ODD not in html and "<img" not in html
    row = row_of(html, compared["ids"]["flipped"])
    assert f"<strong>{escape(ODD)}</strong>" in row and f"{escape(ODD)} — revision 1" in row
    dialog = server.client.get(
        f"/ui/deployments/{compared['deployment']}/challengers/{compared['ids']['flipped']}/remove"
    )
    assert dialog.status_code == 200 and f"Remove {escape(ODD)}?" in dialog.text and ODD not in dialog.text
    choices = server.client.get(f"/ui/deployments/{compared['deployment']}/challengers/add").text
    assert f'<optgroup label="{escape(ODD)}">' in choices and ODD not in choices


def test_a_viewer_sees_the_table_without_the_actions(server: Server, compared: dict[str, Any]) -> None:
    sign_in(server, "bob")
    deployment_id, ids = compared["deployment"], compared["ids"]
    html = section_of(page_of(server, deployment_id))
    assert "<strong>retrained revision 1</strong>" in row_of(html, ids["retrained"])
    assert "Agreement with the champion" in html and "200" in cells(row_of(html, ids["retrained"]))
    for control in ("Add challenger", "Replay now", "Replace with this challenger", "Remove", "<form", "<button"):
        assert control not in html, control
    assert len(cells(row_of(html, ids["retrained"]))) == 9  # no actions column
    # Asked by hand, with the viewer's own session and token, each action is refused.
    refused = add(server, deployment_id, "whatever")
    assert refused.status_code == 403 and "viewer" in refused.text
    for path, title in (
        ("challengers/replay", "Cannot replay"),
        (f"challengers/{ids['retrained']}/remove", "Not allowed"),
    ):
        response = post(server, f"/ui/deployments/{deployment_id}/{path}")
        assert response.status_code == 403 and f"<h1>{title}</h1>" in response.text, path
        assert "viewer" in response.text
    assert set(listed(server, deployment_id)) == set(ids.values())


def test_a_non_member_gets_the_404_page_everywhere(server: Server, compared: dict[str, Any]) -> None:
    sign_in(server, "carol")
    deployment_id, challenger_id = compared["deployment"], compared["ids"]["retrained"]
    base = f"/ui/deployments/{deployment_id}"
    for path in (
        f"{base}/monitoring",
        f"{base}/challengers/add",
        f"{base}/challengers/{challenger_id}/remove",
        f"{base}/challengers/replays/{compared['operation']}",
    ):
        response = server.client.get(path)
        assert response.status_code == 404 and "<h1>Not found</h1>" in response.text, path
        assert "retrained" not in response.text
    for path in ("challengers", "challengers/replay", f"challengers/{challenger_id}/remove"):
        response = post(server, f"{base}/{path}")
        assert response.status_code == 404, path
    assert set(listed(server, deployment_id)) == set(compared["ids"].values())


def test_forms_without_the_csrf_token_are_refused(server: Server, compared: dict[str, Any]) -> None:
    sign_in(server, "alice")
    deployment_id, ids = compared["deployment"], compared["ids"]
    base = f"/ui/deployments/{deployment_id}"
    for path in ("challengers", "challengers/replay", f"challengers/{ids['retrained']}/remove"):
        response = post(server, f"{base}/{path}", token=False)
        assert response.status_code == 403 and "security token" in response.text, path
    forged = server.client.post(f"{base}/challengers/replay", data={"csrf_token": "forged"}, follow_redirects=False)
    assert forged.status_code == 403
    assert set(listed(server, deployment_id)) == set(ids.values())
    with server.context.sessions() as session:
        # No replay was started by any of them: a new one may start at once (and is left to finish).
        _, operation = challengers.start_replay(session, alice(server), deployment_id=deployment_id)
    assert wait_for(server, operation.id) == "succeeded"
    # The page's forms carry the session's token.
    html = section_of(page_of(server, deployment_id))
    token = csrf_of(server, "/ui/spaces")
    assert html.count(f'name="csrf_token" value="{token}"') == 1  # Replay now
    dialog = server.client.get(f"{base}/challengers/add").text
    assert f'name="csrf_token" value="{token}"' in dialog


def test_the_service_refusals_are_shown_in_the_dialog(
    server: Server, space: dict[str, str], model_files: ModelFiles
) -> None:
    deployment_id = ready(server, space["space"], space["champion"], "refusals")
    sign_in(server, "alice")
    # Another kind of target: named at the model revision field, in the dialog, with the service's status.
    other = add(server, deployment_id, version_id(server, space["regressor"]))
    assert other.status_code == 400
    assert re.search(r'id="challenger-version-error">[^<]*same kind of target', other.text), other.text
    assert 'aria-invalid="true"' in other.text and "<dialog" in other.text
    assert f'<option value="{version_id(server, space["regressor"])}" selected>' in other.text  # the choice kept
    # The champion itself.
    itself = add(server, deployment_id, version_id(server, space["champion"]))
    assert itself.status_code == 400 and "the deployment&#39;s champion" in itself.text
    # A model revision already a challenger: the service's conflict, as the dialog's general error.
    assert add(server, deployment_id, version_id(server, space["retrained"]), "first").status_code == 303
    again = add(server, deployment_id, version_id(server, space["retrained"]), "again")
    assert again.status_code == 409 and '<div class="alert error" role="alert">' in again.text
    assert "already a challenger" in again.text and 'value="again"' in again.text
    # The sixth challenger.
    frame, labels = training_data(seed=20)
    extra = [
        upload_model(server, space["space"], model_bytes(LogisticRegression(C=c).fit(frame, labels)), f"x{c}")
        for c in (0.1, 0.2, 0.3, 0.4, 0.6)
    ]
    for model_id in extra[: MAX_CHALLENGERS - 1]:
        assert add(server, deployment_id, version_id(server, model_id)).status_code == 303
    assert len(listed(server, deployment_id)) == MAX_CHALLENGERS
    sixth = add(server, deployment_id, version_id(server, extra[-1]))
    assert sixth.status_code == 400
    assert re.search(rf'id="challenger-version-error">[^<]*at most {MAX_CHALLENGERS} challengers', sixth.text)
    assert len(listed(server, deployment_id)) == MAX_CHALLENGERS
    # An unknown revision.
    unknown = add(server, deployment_id, "no-such-version")
    assert unknown.status_code == 400 and "no model version with id" in unknown.text


def test_a_fragment_request_gets_the_dialog_back(server: Server, space: dict[str, str]) -> None:
    deployment_id = ready(server, space["space"], space["champion"], "fragment")
    sign_in(server, "alice")
    token = csrf_of(server, "/ui/spaces")
    data = {"version_id": version_id(server, space["regressor"]), "name": "", "csrf_token": token}
    refused = server.client.post(
        f"/ui/deployments/{deployment_id}/challengers", data=data, headers={"X-Champion-Fragment": "1"}
    )
    assert refused.status_code == 400 and refused.text.lstrip().startswith("<dialog")
    data["version_id"] = version_id(server, space["retrained"])
    done = server.client.post(
        f"/ui/deployments/{deployment_id}/challengers", data=data, headers={"X-Champion-Fragment": "1"}
    )
    assert done.status_code == 204
    assert done.headers["UI-Location"].startswith(f"/ui/deployments/{deployment_id}/monitoring?challenger=")
    # Replay now with nothing captured: it ends at once, and says why there are no figures.
    started = post(server, f"/ui/deployments/{deployment_id}/challengers/replay", fragment=True)
    assert started.status_code == 204
    operation_id = started.headers["UI-Location"].split("replay=")[1].split("#")[0]
    assert wait_for(server, operation_id) == "succeeded"
    html = page_of(server, deployment_id, replay=operation_id)
    assert "Replay finished:</strong> no captured predictions of the champion to replay yet." in html
    assert "No replay has compared them yet." in html


def test_replay_refusals_are_error_pages(server: Server, space: dict[str, str]) -> None:
    lonely = ready(server, space["space"], space["champion"], "lonely")
    sign_in(server, "alice")
    nothing = post(server, f"/ui/deployments/{lonely}/challengers/replay")
    assert nothing.status_code == 400 and "no challengers to replay" in nothing.text
    assert "<h1>Cannot replay</h1>" in nothing.text
    in_a_dialog = post(server, f"/ui/deployments/{lonely}/challengers/replay", fragment=True)
    assert in_a_dialog.status_code == 400 and in_a_dialog.text.startswith('<div class="alert error" role="alert">')
    # A replay while one runs: the second is refused (409), naming the one under way.
    busy = captured(server, space, "busy")
    assert add(server, busy, version_id(server, space["retrained"])).status_code == 303
    with server.context.sessions() as session:
        _, running = challengers.start_replay(session, alice(server), deployment_id=busy)
    status = server.client.get(f"/ui/deployments/{busy}/challengers/replays/{running.id}", follow_redirects=False)
    second = post(server, f"/ui/deployments/{busy}/challengers/replay")
    if status.status_code == 200:  # still running when asked (it may end first on a fast machine)
        assert f'data-replay="/ui/deployments/{busy}/challengers/replays/{running.id}"' in status.text
        assert second.status_code == 409 and "already running" in second.text
    assert wait_for(server, running.id) == "succeeded"
    ended = server.client.get(f"/ui/deployments/{busy}/challengers/replays/{running.id}", follow_redirects=False)
    assert ended.status_code == 303
    assert ended.headers["location"] == f"/ui/deployments/{busy}/monitoring?replay={running.id}#challengers"
    # Another deployment's replay, or no replay at all, is no replay of this one.
    for wrong in (running.id, "no-such-operation"):
        response = server.client.get(f"/ui/deployments/{lonely}/challengers/replays/{wrong}")
        assert response.status_code == 404 and "no replay with id" in response.text
    assert "Replay finished" not in page_of(server, lonely, replay=running.id)  # an old link: ignored


def test_a_running_replay_is_shown_and_polled(server: Server, space: dict[str, str]) -> None:
    """The page asked about a replay that has not ended shows it running, with the address ui.js polls."""
    deployment_id = captured(server, space, "polled")
    sign_in(server, "alice")
    assert add(server, deployment_id, version_id(server, space["retrained"])).status_code == 303
    with server.context.sessions() as session:
        # Recorded but not yet claimed: pending is still running for the page (the runner is not woken).
        _, operation = challengers.begin_replay(
            session, deployment_id, created_by=server.ids["alice"], scheduled_for=None
        )
        html = page_of(server, deployment_id, replay=operation.id)
        state = operations.get(session, operation_id=operation.id).state
    if state in ("pending", "running"):
        status = re.search(
            r'<div class="alert info replay-status" role="status" id="replay-status" data-replay="([^"]+)">', html
        )
        assert status and status.group(1) == f"/ui/deployments/{deployment_id}/challengers/replays/{operation.id}"
        assert "Replaying" in html
    assert wait_for(server, operation.id) == "succeeded"
    assert "Replay finished" in page_of(server, deployment_id, replay=operation.id)


def test_remove_asks_then_removes(server: Server, space: dict[str, str]) -> None:
    deployment_id = ready(server, space["space"], space["champion"], "removal")
    sign_in(server, "alice")
    assert add(server, deployment_id, version_id(server, space["retrained"]), "doomed").status_code == 303
    (challenger_id,) = listed(server, deployment_id)
    html = page_of(server, deployment_id)
    remove_url = f"/ui/deployments/{deployment_id}/challengers/{challenger_id}/remove"
    assert f'data-dialog="{remove_url}"' in row_of(html, challenger_id)
    dialog = server.client.get(remove_url)
    assert dialog.status_code == 200 and "<dialog" in dialog.text and "Remove doomed?" in dialog.text
    assert f'action="{remove_url}"' in dialog.text and "Its model stays in the space" in dialog.text
    removed = post(server, remove_url)
    assert removed.status_code == 303
    assert (
        removed.headers["location"] == f"/ui/deployments/{deployment_id}/monitoring?removed={challenger_id}#challengers"
    )
    assert listed(server, deployment_id) == {}
    after = section_of(page_of(server, deployment_id, removed=challenger_id))
    assert "The challenger was removed." in after and "No challengers yet." in after
    again = post(server, remove_url)
    assert again.status_code == 404 and f"no challenger with id {challenger_id!r}" in again.text.replace("&#39;", "'")


def test_replace_with_a_challenger_opens_the_replace_dialog_and_swaps(server: Server, space: dict[str, str]) -> None:
    deployment_id = captured(server, space, "promoted")
    sign_in(server, "alice")
    assert add(server, deployment_id, version_id(server, space["retrained"])).status_code == 303
    (challenger_id,) = listed(server, deployment_id)
    replay = post(server, f"/ui/deployments/{deployment_id}/challengers/replay")
    assert wait_for(server, replay.headers["location"].split("replay=")[1].split("#")[0]) == "succeeded"
    asset = f"{space['retrained']}:1"
    html = page_of(server, deployment_id)
    button = f'data-dialog="/ui/deployments/{deployment_id}/replace?asset={asset.replace(":", "%3A")}"'
    assert button in row_of(html, challenger_id)
    # The usual dialog, on the challenger's model and revision; the usual checks and replacement.
    dialog = server.client.get(f"/ui/deployments/{deployment_id}/replace", params={"asset": asset})
    assert dialog.status_code == 200 and "Replace asset" in dialog.text
    assert f'<option value="{asset}" selected>retrained — revision 1</option>' in dialog.text
    token = csrf_of(server, "/ui/spaces")
    checked = server.client.post(
        f"/ui/deployments/{deployment_id}/replace/validate",
        data={"asset": asset, "reason": "ACCURACY", "csrf_token": token},
    )
    assert checked.status_code == 200 and "validChallenger" in checked.text
    replaced = server.client.post(
        f"/ui/deployments/{deployment_id}/replace",
        data={"asset": asset, "reason": "ACCURACY", "csrf_token": token},
        follow_redirects=False,
    )
    assert replaced.status_code == 303 and replaced.headers["location"].startswith(
        f"/ui/deployments/{deployment_id}?watch="
    )
    deadline = time.monotonic() + 30
    while (
        server.call(
            "POST",
            f"/ml/v4/deployments/{deployment_id}/predictions",
            json={"input_data": [{"fields": FEATURES, "values": [[0.1, 0.2, 0.3]]}]},
        ).headers.get("Champion-Model-Version")
        != asset
    ):
        assert time.monotonic() < deadline, "the challenger never served"
        time.sleep(0.1)
    # Its row says so, and offers no replacement by the model already serving.
    html = page_of(server, deployment_id)
    row = row_of(html, challenger_id)
    assert "the champion now" in row and "Replace with this challenger" not in row and "Remove" in row
    # The figures stay those of the last replay, against the champion of then: the page says so.
    assert "The deployment was replaced since" in html and "<strong>champion — revision 1</strong>" in html
    assert cells(row_of(html, "champion"))[0] == "Champion retrained — revision 1"
    assert "The figures compare with champion — revision 1" in cells(row_of(html, "champion"))[2]
    # Without the parameter the dialog chooses as it always did.
    plain = server.client.get(f"/ui/deployments/{deployment_id}/replace").text
    assert f'<option value="{asset}" selected>' in plain  # the newest revision of the serving model
