"""Every UI page, dialog and fragment renders for a signed-in editor (in-process; the browser tests drive them)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from champion.models.software_specs import CATALOGUE
from champion.ui.views import NOTHING_TO_ROLL_BACK
from tests.api.test_wml_deployments import deploy, upload_model, wait_until_settled
from tests.api.test_wml_routes import Server, serving
from tests.model_files import ModelFiles
from tests.ui.conftest import csrf_of, sign_in


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("ui-pages"), "alice", "bob", "carol") as server:
        yield server


def test_pages_and_fragments_render(server: Server, live: dict[str, str], model_files: ModelFiles) -> None:
    sign_in(server, "alice")
    d = live["deployment"]
    for path in (
        "/ui/spaces",
        f"/ui/spaces/{live['space']}",
        f"/ui/spaces/{live['space']}?tab=members",
        f"/ui/deployments/{d}",
        f"/ui/deployments/{d}/edit",
        f"/ui/deployments/{d}/replace",
        f"/ui/deployments/{d}/rollback",
        f"/ui/deployments/{d}/delete",
        f"/ui/deployments/{d}/status",
    ):
        response = server.client.get(path)
        assert response.status_code == 200, (path, response.text)
    token = csrf_of(server, f"/ui/deployments/{d}")
    checks = server.client.post(
        f"/ui/deployments/{d}/replace/validate", data={"asset": f"{live['model']}:1", "csrf_token": token}
    )
    assert checks.status_code == 200 and "notCurrentModel" in checks.text
    answer = server.client.post(
        f"/ui/deployments/{d}/predict",
        data={"feature:x1": "0.5", "feature:x2": "-0.2", "feature:x3": "1", "csrf_token": token},
    )
    assert answer.status_code == 200 and "revision 1" in answer.text, answer.text
    bad = server.client.post(
        f"/ui/deployments/{d}/predict", data={"payload": '{"input_data": [{"values": [[1]]}]}', "csrf_token": token}
    )
    assert bad.status_code == 400 and "expected 3 values" in bad.text
    uploaded = server.client.post(
        f"/ui/deployments/{d}/upload",
        params={"into": live["model"], "name": "classifier.joblib"},
        content=model_files.classifier_named.read_bytes(),
        headers={"X-CSRF-Token": token},
    )
    assert uploaded.status_code == 200 and "revision 2" in uploaded.text
    nothing = server.client.post(f"/ui/deployments/{d}/rollback", data={"csrf_token": token})
    assert nothing.status_code == 409 and "no earlier champion" in nothing.text


def rollback_control(html: str, deployment_id: str) -> str:
    """The opening tag of a Roll back button or menu item, and what follows it up to its line's end."""
    found = re.search(rf'data-dialog="/ui/deployments/{deployment_id}/rollback"[^>]*>Roll back</button>\s*[^\n]*', html)
    assert found, html
    return found.group(0)


def test_roll_back_is_disabled_until_there_is_an_earlier_model(
    server: Server, live: dict[str, str], model_files: ModelFiles
) -> None:
    space, content = live["space"], model_files.classifier_named.read_bytes()
    model = upload_model(server, space, content, name="rollback-demo")
    d = deploy(server, space, model)["metadata"]["id"]
    assert wait_until_settled(server, space, d)["entity"]["status"]["state"] == "ready"

    sign_in(server, "bob")  # a viewer is told about the role, not about the history
    viewer = rollback_control(server.client.get(f"/ui/spaces/{space}").text, d)
    assert 'aria-disabled="true"' in viewer and "you are a viewer" in viewer

    sign_in(server, "alice")
    item = rollback_control(server.client.get(f"/ui/spaces/{space}").text, d)
    assert 'aria-disabled="true"' in item and NOTHING_TO_ROLL_BACK in item
    sheet = server.client.get(f"/ui/deployments/{d}").text
    button = rollback_control(sheet, d)
    assert (
        "disabled" in button
        and 'aria-describedby="rollback-why"' in button
        and f'title="{NOTHING_TO_ROLL_BACK}"' in button
    )
    assert f'<p class="hint" id="rollback-why">{NOTHING_TO_ROLL_BACK}</p>' in sheet

    put = server.call("PUT", f"/ml/v4/models/{model}/content", params={"space_id": space}, content=content)
    assert put.status_code == 201, put.text
    token = csrf_of(server, f"/ui/deployments/{d}")
    started = server.client.post(
        f"/ui/deployments/{d}/replace", data={"asset": f"{model}:2", "csrf_token": token}, follow_redirects=False
    )
    assert started.status_code == 303, started.text
    assert wait_until_settled(server, space, d)["entity"]["asset"]["rev"] == "2"

    item = rollback_control(server.client.get(f"/ui/spaces/{space}").text, d)
    assert "aria-disabled" not in item and NOTHING_TO_ROLL_BACK not in item
    sheet = server.client.get(f"/ui/deployments/{d}").text
    assert "disabled" not in rollback_control(sheet, d) and 'id="rollback-why"' not in sheet


def test_a_new_model_from_the_drop_zone_gets_the_wml_type_of_its_library(
    server: Server, live: dict[str, str], model_files: ModelFiles
) -> None:
    sign_in(server, "alice")
    d, space = live["deployment"], live["space"]
    sklearn = dict(CATALOGUE[0].packages)["scikit-learn"]
    expected = "scikit-learn_" + ".".join(sklearn.split(".")[:2])
    dialog = server.client.get(f"/ui/deployments/{d}/replace").text
    assert f'<option value="{expected}" selected>{expected}</option>' in dialog
    token = csrf_of(server, f"/ui/deployments/{d}")
    for name, chosen, wanted in (
        ("family-only.joblib", "scikit-learn", expected),  # a bare family, as an older page sent it
        ("no-type.joblib", "", expected),
        ("pinned.joblib", "scikit-learn_1.3", "scikit-learn_1.3"),
    ):
        uploaded = server.client.post(
            f"/ui/deployments/{d}/upload",
            params={"name": name, "type": chosen},
            content=model_files.classifier_named.read_bytes(),
            headers={"X-CSRF-Token": token},
        )
        assert uploaded.status_code == 200, uploaded.text
        listed = server.call("GET", "/ml/v4/models", params={"space_id": space, "version": "2026-10-14"}).json()
        model = next(m for m in listed["resources"] if m["metadata"]["name"] == name.split(".")[0])
        assert model["entity"]["type"] == wanted, (name, model["entity"])


def test_odd_input_to_the_dialogs_is_a_400_not_a_500(
    server: Server, live: dict[str, str], model_files: ModelFiles
) -> None:
    sign_in(server, "alice")
    d = live["deployment"]
    token = csrf_of(server, f"/ui/deployments/{d}")
    # "²" is a digit to str.isdigit, but no revision number.
    for asset in (f"{live['model']}:²", f"{live['model']}:99999999999999999999999"):
        checks = server.client.post(f"/ui/deployments/{d}/replace/validate", data={"asset": asset, "csrf_token": token})
        assert checks.status_code == 400, (asset, checks.text)
    long_name = "m" * 300 + ".joblib"
    uploaded = server.client.post(
        f"/ui/deployments/{d}/upload",
        params={"name": long_name},
        content=model_files.classifier_named.read_bytes(),
        headers={"X-CSRF-Token": token},
    )
    assert uploaded.status_code == 400 and "name" in uploaded.text, uploaded.text
    listed = server.call("GET", "/ml/v4/models", params={"space_id": live["space"], "version": "2026-10-14"}).json()
    assert all(not m["metadata"]["name"].startswith("mmmm") for m in listed["resources"])


def test_the_test_panel_refuses_more_rows_than_a_request_may_score(
    tmp_path_factory: pytest.TempPathFactory, model_files: ModelFiles
) -> None:
    with serving(tmp_path_factory.mktemp("ui-rows"), "alice", max_rows_per_request=3) as small:
        space = small.call("POST", "/v2/spaces", json={"name": "s"}).json()["metadata"]["id"]
        model = upload_model(small, space, model_files.classifier_named.read_bytes())
        d = deploy(small, space, model)["metadata"]["id"]
        assert wait_until_settled(small, space, d)["entity"]["status"]["state"] == "ready"
        sign_in(small, "alice")
        token = csrf_of(small, f"/ui/deployments/{d}")
        for rows, status in ((3, 200), (4, 400)):
            payload = '{"input_data": [{"values": [' + ",".join(["[0.1, 0.2, 0.3]"] * rows) + "]}]}"
            answer = small.client.post(f"/ui/deployments/{d}/predict", data={"payload": payload, "csrf_token": token})
            assert answer.status_code == status, answer.text
        assert "more than one request may score" in answer.text
