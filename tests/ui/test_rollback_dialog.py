"""The Roll back dialog offers the earlier champions from the history, and rolls back to the one chosen."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.api.test_wml_deployments import upload_model, wait_until_settled
from tests.api.test_wml_routes import Server, serving
from tests.model_files import ModelFiles
from tests.ui.conftest import V, csrf_of, sign_in

OPTION = re.compile(r'<option value="([^"]*)"[^>]*>([^<]*)</option>')


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("ui-rollback"), "alice") as server:
        yield server


@pytest.fixture(scope="module")
def three(server: Server, model_files: ModelFiles) -> dict[str, str]:
    """A deployment that served churn rev 1, then rev 2, and serves rev 3."""
    space: str = server.call("POST", "/v2/spaces", json={"name": "team"}).json()["metadata"]["id"]
    content = model_files.classifier_named.read_bytes()
    model = upload_model(server, space, content, name="churn")
    for _ in range(2):
        assert server.call("PUT", f"/ml/v4/models/{model}/content", params={"space_id": space}, content=content)
    body = {"name": "churn-api", "online": {}, "asset": {"id": model, "rev": "1"}, "space_id": space}
    deployment = server.call("POST", "/ml/v4/deployments", params=V, json=body).json()["metadata"]["id"]
    wait_until_settled(server, space, deployment)
    for rev in ("2", "3"):
        asset = [{"op": "replace", "path": "/asset", "value": {"id": model, "rev": rev}}]
        url = f"/ml/v4/deployments/{deployment}"
        assert server.call("PATCH", url, params={"space_id": space}, json=asset).status_code == 202
        assert wait_until_settled(server, space, deployment)["entity"]["asset"]["rev"] == rev
    history = server.call("GET", f"/ml/v4/deployments/{deployment}/replacements").json()["resources"]
    first = next(h["metadata"]["id"] for h in history if h["entity"]["to"]["rev"] == "2")
    return {"space": space, "model": model, "deployment": deployment, "first": first}


def test_the_dialog_offers_before_the_last_change_then_each_earlier_champion(
    server: Server, three: dict[str, str]
) -> None:
    sign_in(server, "alice")
    dialog = server.client.get(f"/ui/deployments/{three['deployment']}/rollback")
    assert dialog.status_code == 200, dialog.text
    select = dialog.text.split('name="to"')[1].split("</select>")[0]
    options = OPTION.findall(select)
    assert [value for value, _ in options] == ["", three["first"]]
    assert options[0][1].startswith("churn rev 2 (before the last change)")
    assert options[1][1].startswith("churn rev 1 (before the replace of")


def test_rolling_back_to_the_chosen_record_serves_its_earlier_model(server: Server, three: dict[str, str]) -> None:
    sign_in(server, "alice")
    d = three["deployment"]
    token = csrf_of(server, f"/ui/deployments/{d}")
    unknown = server.client.post(
        f"/ui/deployments/{d}/rollback", data={"to": "nope", "reason": "ERRORS", "csrf_token": token}
    )
    assert unknown.status_code == 400 and "no replacement &#39;nope&#39;" in unknown.text
    assert '<option value="ERRORS" selected>' in unknown.text  # the dialog again, as it was filled in
    chosen = server.client.post(
        f"/ui/deployments/{d}/rollback",
        data={"to": three["first"], "reason": "ERRORS", "csrf_token": token},
        follow_redirects=False,
    )
    assert chosen.status_code == 303, chosen.text
    assert wait_until_settled(server, three["space"], d)["entity"]["asset"]["rev"] == "1"
    latest = server.call("GET", f"/ml/v4/deployments/{d}/replacements").json()["resources"][0]["entity"]
    assert (latest["kind"], latest["reason"], latest["to"]["rev"]) == ("rollback", "ERRORS", "1")
