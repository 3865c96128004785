"""Software specifications with the official `ibm_watsonx_ai` client, unchanged, against `champion serve --tls`:
every spec listed and found by name, a spec that does not fit refused, and a deployment moved to another spec
the way a WML user does it (patch the model's spec, create a revision, patch the deployment's asset)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from ibm_watsonx_ai import APIClient, Credentials
from ibm_watsonx_ai.wml_client_error import WMLClientError

from champion.models.software_specs import CATALOGUE
from tests.compat.conftest import RunningServer
from tests.model_files import ModelFiles

pytestmark = [
    pytest.mark.compat,
    pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning"),
]

PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
GENERAL, SKLEARN, XGBOOST = f"runtime-24.1-py{PYTHON}", f"scikit-learn_rt24.1-py{PYTHON}", f"xgboost_rt24.1-py{PYTHON}"
ONNX = f"onnxruntime_rt24.1-py{PYTHON}"
V = {"version": "2026-10-14"}


@pytest.fixture(scope="module", autouse=True)
def _scratch_cwd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("client-cwd")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        yield folder


@pytest.fixture(scope="module")
def client(server: RunningServer) -> APIClient:
    client = APIClient(Credentials(url=server.url, token=server.admin_api_key, verify=False))
    space = client.spaces.store({client.spaces.ConfigurationMetaNames.NAME: "specs"})
    client.set.default_space(client.spaces.get_id(space))
    return client


def store(client: APIClient, model_files: ModelFiles, name: str, spec: str) -> str:
    names = client.repository.ModelMetaNames
    details = client.repository.store_model(
        model=str(model_files.classifier_tar),
        meta_props={
            names.NAME: name,
            names.TYPE: "scikit-learn_1.3",
            names.SOFTWARE_SPEC_ID: client.software_specifications.get_id_by_name(spec),
        },
    )
    model_id: str = client.repository.get_model_id(details)
    return model_id


def test_every_spec_is_listed_and_found_by_name(client: APIClient) -> None:
    table = client.software_specifications.list()
    assert (
        list(table["NAME"])
        == [spec.name for spec in CATALOGUE]
        == [
            GENERAL,
            SKLEARN,
            XGBOOST,
            f"lightgbm_rt24.1-py{PYTHON}",
            ONNX,
        ]
    )
    assert set(table["STATE"]) == {"supported"} and set(table["TYPE"]) == {"base"}
    for spec in CATALOGUE:
        assert client.software_specifications.get_id_by_name(spec.name) == spec.id
        details = client.software_specifications.get_details(spec.id)
        assert details["metadata"]["name"] == spec.name
        packages = details["entity"]["software_specification"]["software_configuration"]["included_packages"]
        assert [(p["name"], p["version"]) for p in packages] == list(spec.packages)


def test_a_spec_that_does_not_fit_the_models_family_is_refused(client: APIClient, model_files: ModelFiles) -> None:
    with pytest.raises(WMLClientError, match="runs xgboost models, not scikit-learn models") as refused:
        store(client, model_files, "misfit", XGBOOST)
    assert SKLEARN in str(refused.value)
    assert "misfit" not in [m["metadata"]["name"] for m in client.repository.get_model_details()["resources"]]


def deploy_over_http(server: RunningServer, client: APIClient, model_id: str) -> str:
    """An online deployment of the model's revision 1, made over plain HTTP: `deployments.create` sleeps 5 s."""
    space = client.default_space_id
    with httpx.Client(
        base_url=server.url, verify=False, headers={"Authorization": f"Bearer {server.admin_api_key}"}
    ) as http:
        body = {"name": "churn online", "online": {}, "asset": {"id": model_id, "rev": "1"}, "space_id": space}
        deployment_id: str = http.post("/ml/v4/deployments", params=V, json=body).json()["metadata"]["id"]
        deadline = time.monotonic() + 30
        while True:
            details = http.get(f"/ml/v4/deployments/{deployment_id}", params={**V, "space_id": space}).json()
            if details["entity"]["status"]["state"] == "ready":
                return deployment_id
            assert time.monotonic() < deadline, f"the deployment never became ready: {details}"
            time.sleep(0.05)


def test_a_deployment_moves_to_another_spec(server: RunningServer, client: APIClient, model_files: ModelFiles) -> None:
    model_id = store(client, model_files, "churn", GENERAL)
    deployment_id = deploy_over_http(server, client, model_id)
    names = client.deployments.ConfigurationMetaNames

    # 1. The model's spec: one that does not fit its family is refused, one that fits is taken.
    spec_id = client.repository.ModelMetaNames.SOFTWARE_SPEC_ID
    with pytest.raises(WMLClientError, match="not scikit-learn models"):
        client.repository.update_model(model_id, {spec_id: client.software_specifications.get_id_by_name(ONNX)})
    sklearn = client.software_specifications.get_id_by_name(SKLEARN)
    client.repository.update_model(model_id, {spec_id: sklearn})
    # 2. A revision freezes the model with its new spec; the deployed revision keeps its own.
    revision = client.repository.create_model_revision(model_id)
    rev = revision["metadata"]["rev"]
    assert revision["entity"]["software_spec"]["id"] == sklearn
    (deployed,) = client.repository.get_model_revision_details(model_id, "1")["resources"]  # the client wraps it
    assert deployed["entity"]["software_spec"]["id"] == client.software_specifications.get_id_by_name(GENERAL)
    # 3. The deployment's asset patch: a validated replacement to the new revision.
    client.deployments.update(deployment_id, {names.ASSET: {"id": model_id, "rev": rev}})
    details = client.deployments.get_details(deployment_id)
    assert details["entity"]["status"]["state"] == "ready"
    assert details["entity"]["asset"] == {"id": model_id, "rev": rev}
    assert "supported" in client.deployments.list().to_string()
