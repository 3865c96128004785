"""The official `ibm_watsonx_ai` client's deployment updates, as WML means them: the asset patch's answer,
HARDWARE_REQUEST and BATCH changes, against `champion serve --tls`.

Every call uses `background_mode=True` and polls here, so no test pays the client's 5-second sleeps.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ibm_watsonx_ai import APIClient, Credentials
from ibm_watsonx_ai.utils.warnings import WatsonxAPIWarning
from sklearn.linear_model import LogisticRegression

from tests.compat.conftest import RunningServer
from tests.model_files import ModelFiles, training_data

pytestmark = [
    pytest.mark.compat,
    pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning"),
    pytest.mark.filterwarnings("ignore:Background mode is turned on:UserWarning"),
]

SPEC_NAME = f"runtime-24.1-py{sys.version_info.major}.{sys.version_info.minor}"


@pytest.fixture(scope="module", autouse=True)
def _scratch_cwd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("client-cwd")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        yield folder


def settled(client: APIClient, deployment_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        details: dict[str, Any] = client.deployments.get_details(deployment_id)
        if details["entity"]["status"]["state"] not in ("initializing", "updating"):
            return details
        assert time.monotonic() < deadline, details
        time.sleep(0.2)


@pytest.fixture(scope="module")
def setup(server: RunningServer, model_files: ModelFiles) -> tuple[APIClient, dict[str, str]]:
    """An online and a batch deployment of model `churn`, and a retrained model to replace it with."""
    client = APIClient(Credentials(url=server.url, token=server.admin_api_key, verify=False))
    space = client.spaces.store({client.spaces.ConfigurationMetaNames.NAME: "fidelity"})
    client.set.default_space(client.spaces.get_id(space))
    spec = client.software_specifications.get_id_by_name(SPEC_NAME)
    names = client.repository.ModelMetaNames

    def store(model: Any, name: str) -> str:
        meta = {names.NAME: name, names.TYPE: "scikit-learn_1.3", names.SOFTWARE_SPEC_ID: spec}
        return str(client.repository.get_model_id(client.repository.store_model(model=model, meta_props=meta)))

    frame, target = training_data(seed=5)
    ids = {
        "model": store(str(model_files.classifier_tar), "churn"),
        "retrained": store(LogisticRegression(C=0.05).fit(frame, target), "churn v2"),
    }
    meta = client.deployments.ConfigurationMetaNames
    for kind, props in (("online", {meta.ONLINE: {}}), ("batch", {meta.BATCH: {}, meta.HARDWARE_SPEC: {"name": "S"}})):
        created = client.deployments.create(ids["model"], {meta.NAME: kind, **props}, background_mode=True)
        ids[kind] = client.deployments.get_id(created)
    for kind in ("online", "batch"):
        assert settled(client, ids[kind])["entity"]["status"]["state"] == "ready"
    return client, ids


def test_update_asset_returns_the_deployment_updating_to_the_new_asset(
    setup: tuple[APIClient, dict[str, str]],
) -> None:
    client, ids = setup
    changes = {client.deployments.ConfigurationMetaNames.ASSET: {"id": ids["retrained"]}}
    answer = client.deployments.update(ids["online"], changes=changes, background_mode=True)
    assert answer is not None
    assert answer["entity"]["status"]["state"] == "updating"
    assert answer["entity"]["asset"] == {"id": ids["retrained"], "rev": "1"}
    assert answer["entity"]["status"]["serving_asset"] == {"id": ids["model"], "rev": "1"}
    done = settled(client, ids["online"])["entity"]
    assert "failure" not in done["status"]
    assert done["asset"] == done["status"]["serving_asset"] == {"id": ids["retrained"], "rev": "1"}


def test_update_hardware_request_is_kept_and_shown(setup: tuple[APIClient, dict[str, str]]) -> None:
    client, ids = setup
    request = {"size": client.deployments.HardwareRequestSizes.Medium.value, "num_nodes": 2}
    changes = {client.deployments.ConfigurationMetaNames.HARDWARE_REQUEST: request}
    # The client turns `system.warnings` into Python warnings: the caller learns no GPU was allocated.
    with pytest.warns(WatsonxAPIWarning, match="recorded, not applied"):
        answer = client.deployments.update(ids["online"], changes=changes, background_mode=True)
    assert answer is not None and answer["entity"]["hardware_request"] == request
    with pytest.warns(WatsonxAPIWarning, match="recorded, not applied"):
        details = client.deployments.get_details(ids["online"])
    assert details["entity"]["hardware_request"] == request and details["entity"]["status"]["state"] == "ready"
    assert details["system"]["warnings"][0]["id"] == "hardware_request_not_applied"


def test_update_batch_parameters_of_a_batch_deployment(setup: tuple[APIClient, dict[str, str]]) -> None:
    client, ids = setup
    changes = {client.deployments.ConfigurationMetaNames.BATCH: {"parameters": {"chunk_rows": 500}}}
    answer = client.deployments.update(ids["batch"], changes=changes, background_mode=True)
    assert answer is not None and answer["entity"]["batch"] == {"parameters": {"chunk_rows": 500}}
    assert client.deployments.get_details(ids["batch"])["entity"]["batch"] == {"parameters": {"chunk_rows": 500}}
