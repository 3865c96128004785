"""Model revisions with the official `ibm_watsonx_ai` client, unchanged, against `champion serve --tls`:
each revision keeps its own metadata, a deployment pinned to a revision serves it, and the seed's
`PATCH /ml/v4/models/{id}` with `/asset` moves that deployment to another revision.

The tests run in file order and share the module's model (the client sleeps 5 s before polling a
new deployment, so there is one).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import joblib
import numpy as np
import pytest
from ibm_watsonx_ai import APIClient, Credentials
from sklearn.linear_model import LogisticRegression

from tests.compat.conftest import RunningServer
from tests.model_files import FEATURES, ModelFiles, training_data

pytestmark = [
    pytest.mark.compat,
    pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning"),
]

SPEC_NAME = f"runtime-24.1-py{sys.version_info.major}.{sys.version_info.minor}"
STATE: dict[str, Any] = {}
ROWS = training_data(rows=4, seed=11)[0]


@pytest.fixture(scope="module", autouse=True)
def _scratch_cwd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The client writes temporary model folders into the CWD during object uploads."""
    folder = tmp_path_factory.mktemp("client-cwd")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        yield folder


@pytest.fixture(scope="module")
def client(server: RunningServer, model_files: ModelFiles) -> APIClient:
    client = APIClient(Credentials(url=server.url, token=server.admin_api_key, verify=False))
    space = client.spaces.store({client.spaces.ConfigurationMetaNames.NAME: "revisions"})
    STATE["space"] = client.spaces.get_id(space)
    client.set.default_space(STATE["space"])
    names = client.repository.ModelMetaNames
    model = client.repository.store_model(
        model=str(model_files.classifier_tar),
        meta_props={
            names.NAME: "churn",
            names.TYPE: "scikit-learn_1.3",
            names.SOFTWARE_SPEC_ID: client.software_specifications.get_id_by_name(SPEC_NAME),
        },
    )
    STATE["model"] = client.repository.get_model_id(model)
    return client


def probabilities(client: APIClient, deployment_id: str) -> np.ndarray:
    result = client.deployments.score(
        deployment_id, {"input_data": [{"fields": FEATURES, "values": ROWS.to_numpy().tolist()}]}
    )
    (block,) = result["predictions"]
    return np.array([row[1] for row in block["values"]])


def test_each_revision_keeps_its_own_metadata(client: APIClient) -> None:
    model, names = STATE["model"], client.repository.ModelMetaNames
    client.repository.update_model(model, {names.NAME: "churn renamed", names.DESCRIPTION: "second thoughts"})
    revision = client.repository.create_model_revision(model)
    assert revision["metadata"]["rev"] == "2" and revision["metadata"]["name"] == "churn renamed"
    assert client.repository.create_model_revision(model)["metadata"]["rev"] == "3"  # every call makes one

    (first,) = client.repository.get_model_revision_details(model, "1")["resources"]
    (second,) = client.repository.get_model_revision_details(model, "2")["resources"]
    assert (first["metadata"]["name"], first["metadata"]["description"]) == ("churn", "")
    assert (second["metadata"]["name"], second["metadata"]["description"]) == ("churn renamed", "second thoughts")
    assert second["entity"]["content"]["sha256"] == first["entity"]["content"]["sha256"]
    listing = client.repository.list_models_revisions(model)
    assert sorted(listing["REV"].astype(str)) == ["1", "2", "3"]  # the client lists the newest first
    details = client.repository.get_model_details(model)
    assert (details["metadata"]["name"], details["metadata"]["rev"]) == ("churn renamed", "3")


def test_a_deployment_pinned_to_a_revision_serves_it(client: APIClient, model_files: ModelFiles) -> None:
    frame, target = training_data(seed=5)
    STATE["retrained"] = LogisticRegression(C=0.05).fit(frame, target)
    client.repository.update_model(STATE["model"], {}, update_model=STATE["retrained"])  # uploads revision 4
    assert client.repository.get_model_details(STATE["model"])["metadata"]["rev"] == "4"

    names = client.deployments.ConfigurationMetaNames
    details = client.deployments.create(STATE["model"], meta_props={names.NAME: "pinned", names.ONLINE: {}}, rev_id="2")
    assert details["entity"]["status"]["state"] == "ready"
    assert details["entity"]["asset"] == {"id": STATE["model"], "rev": "2"}
    STATE["deployment"] = client.deployments.get_id(details)
    # Revision 2 is revision 1's file under other metadata.
    np.testing.assert_allclose(probabilities(client, STATE["deployment"]), original(model_files))


def test_the_seeds_model_asset_patch_moves_the_deployment(
    client: APIClient, server: RunningServer, model_files: ModelFiles
) -> None:
    model = STATE["model"]
    body = [{"op": "replace", "path": "/asset", "value": {"id": model, "rev": "4"}}]
    params = {"space_id": STATE["space"], "version": "2026-10-14"}
    with httpx.Client(base_url=server.url, verify=False, timeout=30.0) as http:
        headers = {"Authorization": f"Bearer {server.admin_api_key}"}
        response = http.patch(f"/ml/v4/models/{model}", params=params, json=body, headers=headers)
    assert response.status_code == 202, response.text
    (moved,) = response.json()["resources"]
    assert moved["metadata"]["id"] == STATE["deployment"] and moved["entity"]["status"]["state"] == "updating"

    deadline = time.monotonic() + 30
    while (details := client.deployments.get_details(STATE["deployment"]))["entity"]["status"]["state"] == "updating":
        assert time.monotonic() < deadline, "the deployment never settled"
        time.sleep(0.2)
    assert details["entity"]["status"]["state"] == "ready"
    assert details["entity"]["asset"] == {"id": model, "rev": "4"}
    expected = STATE["retrained"].predict_proba(ROWS)
    np.testing.assert_allclose(probabilities(client, STATE["deployment"]), expected)
    assert not np.allclose(expected, original(model_files))


def original(model_files: ModelFiles) -> np.ndarray:
    result: np.ndarray = joblib.load(model_files.classifier_named).predict_proba(ROWS)
    return result
