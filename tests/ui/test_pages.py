"""Every UI page, dialog and fragment renders for a signed-in editor (in-process; the browser tests drive them)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

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
