"""Deployments with the official `ibm_watsonx_ai` client, unchanged, against `champion serve --tls`.

The client sleeps 5 s before each poll of a new deployment, so this module creates as few
deployments as it can and shares them between tests (they run in file order).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
from ibm_watsonx_ai import APIClient, Credentials
from ibm_watsonx_ai.wml_client_error import WMLClientError

from tests.compat.conftest import RunningServer
from tests.model_files import FEATURES, ModelFiles, training_data

pytestmark = [
    pytest.mark.compat,
    pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning"),
]

SPEC_NAME = f"runtime-24.1-py{sys.version_info.major}.{sys.version_info.minor}"
STATE: dict[str, Any] = {}


@pytest.fixture(scope="module", autouse=True)
def _scratch_cwd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("client-cwd")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        yield folder


@pytest.fixture(scope="module")
def client(server: RunningServer, model_files: ModelFiles) -> APIClient:
    client = APIClient(Credentials(url=server.url, token=server.admin_api_key, verify=False))
    space = client.spaces.store({client.spaces.ConfigurationMetaNames.NAME: "deployments"})
    client.set.default_space(client.spaces.get_id(space))
    spec = client.software_specifications.get_id_by_name(SPEC_NAME)
    model = client.repository.store_model(
        model=str(model_files.classifier_tar),
        meta_props={
            client.repository.ModelMetaNames.NAME: "churn",
            client.repository.ModelMetaNames.TYPE: "scikit-learn_1.3",
            client.repository.ModelMetaNames.SOFTWARE_SPEC_ID: spec,
        },
    )
    STATE["model_id"] = client.repository.get_model_id(model)
    return client


def test_create_an_online_deployment_waits_until_ready(client: APIClient) -> None:
    details = client.deployments.create(
        STATE["model_id"],
        meta_props={
            client.deployments.ConfigurationMetaNames.NAME: "churn online",
            client.deployments.ConfigurationMetaNames.ONLINE: {},
        },
    )
    assert details["entity"]["status"]["state"] == "ready"
    STATE["online"] = client.deployments.get_id(details)
    assert client.deployments.get_scoring_href(details).endswith(f"/ml/v4/deployments/{STATE['online']}/predictions")


def test_get_details_and_list(client: APIClient) -> None:
    details = client.deployments.get_details(STATE["online"])
    assert details["metadata"]["name"] == "churn online"
    assert details["entity"]["asset"] == {"id": STATE["model_id"], "rev": "1"}
    listed = client.deployments.get_details()["resources"]
    assert STATE["online"] in [d["metadata"]["id"] for d in listed]
    table = client.deployments.list()
    assert "churn online" in table.to_string()


def expected(model_files: ModelFiles, rows: np.ndarray) -> tuple[list[int], np.ndarray]:
    import pandas as pd

    estimator = joblib.load(model_files.classifier_named)
    frame = pd.DataFrame(rows, columns=FEATURES)
    return estimator.predict(frame).tolist(), estimator.predict_proba(frame)


def check(result: dict[str, Any], model_files: ModelFiles, rows: np.ndarray) -> None:
    (block,) = result["predictions"]
    labels, probabilities = expected(model_files, rows)
    assert [v[0] for v in block["values"]] == labels
    np.testing.assert_allclose([v[1] for v in block["values"]], probabilities)


def test_score_with_fields_and_values(client: APIClient, model_files: ModelFiles) -> None:
    frame, _ = training_data(rows=4, seed=11)
    rows = frame.to_numpy()
    result = client.deployments.score(STATE["online"], {"input_data": [{"fields": FEATURES, "values": rows.tolist()}]})
    check(result, model_files, rows)


def test_score_with_a_dataframe_and_a_numpy_array(client: APIClient, model_files: ModelFiles) -> None:
    frame, _ = training_data(rows=3, seed=12)
    result = client.deployments.score(STATE["online"], {"input_data": [{"values": frame}]})
    check(result, model_files, frame.to_numpy())
    array = frame.to_numpy()
    result = client.deployments.score(STATE["online"], {"input_data": [{"values": array}]})
    check(result, model_files, array)


def test_bad_scoring_input_is_a_clear_error(client: APIClient) -> None:
    with pytest.raises(WMLClientError, match="x3"):
        client.deployments.score(STATE["online"], {"input_data": [{"fields": ["x1", "x2"], "values": [[1.0, 2.0]]}]})


def test_update_details_name_description_tags_custom(client: APIClient) -> None:
    names = client.deployments.ConfigurationMetaNames
    client.deployments.update(
        STATE["online"],
        {
            names.NAME: "churn renamed",
            names.DESCRIPTION: "scores churn",
            names.TAGS: ["a", "b"],
            names.CUSTOM: {"k": "v"},
        },
    )
    details = client.deployments.get_details(STATE["online"])
    assert details["metadata"]["name"] == "churn renamed"
    assert details["metadata"]["description"] == "scores churn"
    assert details["metadata"]["tags"] == ["a", "b"]
    assert details["entity"]["custom"] == {"k": "v"}


def test_update_serving_name(client: APIClient) -> None:
    client.deployments.update(
        STATE["online"], {client.deployments.ConfigurationMetaNames.SERVING_NAME: "churn_serving"}
    )
    details = client.deployments.get_details(STATE["online"])
    assert details["entity"]["online"]["parameters"]["serving_name"] == "churn_serving"


def test_update_owner_to_an_editor(client: APIClient, make_user: Any) -> None:
    editor = make_user("owner-to-be")
    space_id = client.default_space_id
    client.spaces.create_member(
        space_id, {client.spaces.MemberMetaNames.MEMBERS: [{"id": editor.id, "type": "user", "role": "editor"}]}
    )
    client.deployments.update(STATE["online"], {client.deployments.ConfigurationMetaNames.OWNER: editor.id})
    assert client.deployments.get_details(STATE["online"])["metadata"]["owner"] == editor.id


def test_update_asset_replaces_the_model(client: APIClient, model_files: ModelFiles, tmp_path: Path) -> None:
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    frame, target = training_data(seed=5)
    retrained = LogisticRegression(C=0.05).fit(frame, target)
    spec = client.software_specifications.get_id_by_name(SPEC_NAME)
    stored = client.repository.store_model(
        model=retrained,
        meta_props={
            client.repository.ModelMetaNames.NAME: "churn v2",
            client.repository.ModelMetaNames.TYPE: "scikit-learn_1.3",
            client.repository.ModelMetaNames.SOFTWARE_SPEC_ID: spec,
        },
    )
    new_model = client.repository.get_model_id(stored)
    client.deployments.update(STATE["online"], {client.deployments.ConfigurationMetaNames.ASSET: {"id": new_model}})
    details = client.deployments.get_details(STATE["online"])
    assert details["entity"]["asset"]["id"] == new_model
    rows = frame.head(3)
    result = client.deployments.score(
        STATE["online"], {"input_data": [{"fields": FEATURES, "values": rows.to_numpy().tolist()}]}
    )
    (block,) = result["predictions"]
    np.testing.assert_allclose([v[1] for v in block["values"]], retrained.predict_proba(pd.DataFrame(rows)))
    STATE["model_v2"] = new_model


def test_update_model_details(client: APIClient) -> None:
    names = client.repository.ModelMetaNames
    client.repository.update_model(STATE["model_v2"], {names.NAME: "churn v2 renamed", names.DESCRIPTION: "better"})
    details = client.repository.get_model_details(STATE["model_v2"])
    assert (details["metadata"]["name"], details["metadata"]["description"]) == ("churn v2 renamed", "better")


def test_create_a_batch_deployment(client: APIClient) -> None:
    details = client.deployments.create(
        STATE["model_id"],
        meta_props={
            client.deployments.ConfigurationMetaNames.NAME: "churn nightly",
            client.deployments.ConfigurationMetaNames.BATCH: {},
            client.deployments.ConfigurationMetaNames.HARDWARE_SPEC: {"name": "S"},
        },
    )
    assert details["entity"]["status"]["state"] == "ready"
    STATE["batch"] = client.deployments.get_id(details)


def wait_for_job(client: APIClient, job_id: str) -> dict[str, Any]:
    """Poll `get_job_status` as a user would (the client itself does not poll jobs)."""
    deadline = time.monotonic() + 60
    while True:
        status = client.deployments.get_job_status(job_id)
        if status["state"] in ("completed", "failed", "canceled") or time.monotonic() > deadline:
            return status
        time.sleep(0.2)


def test_a_batch_job_with_inline_input_data(client: APIClient, model_files: ModelFiles) -> None:
    frame, _ = training_data(rows=6, seed=21)
    names = client.deployments.ScoringMetaNames
    created = client.deployments.create_job(
        STATE["batch"], meta_props={names.INPUT_DATA: [{"fields": FEATURES, "values": frame.to_numpy().tolist()}]}
    )
    job_id = client.deployments.get_job_id(created)
    status = wait_for_job(client, job_id)
    assert status["state"] == "completed", status
    assert status["progress"] == {"rows_scored": 6, "rows_total": 6}
    details = client.deployments.get_job_details(job_id)
    check({"predictions": details["entity"]["scoring"]["predictions"]}, model_files, frame.to_numpy())
    STATE["inline_job"] = job_id


def test_a_batch_job_reading_and_writing_data_assets(
    client: APIClient, model_files: ModelFiles, tmp_path: Path
) -> None:
    import pandas as pd

    frame, _ = training_data(rows=8, seed=22)
    source = tmp_path / "to-score.csv"
    frame[list(reversed(FEATURES))].to_csv(source, index=False)  # columns in another order: matched by name
    asset = client.data_assets.create(name="to-score.csv", file_path=str(source))
    names = client.deployments.ScoringMetaNames
    created = client.deployments.create_job(
        STATE["batch"],
        meta_props={
            names.INPUT_DATA_REFERENCES: [
                {"type": "data_asset", "connection": {}, "location": {"href": client.data_assets.get_href(asset)}}
            ],
            names.OUTPUT_DATA_REFERENCE: {"type": "data_asset", "connection": {}, "location": {"name": "scored.csv"}},
        },
    )
    job_id = client.deployments.get_job_id(created)
    assert wait_for_job(client, job_id)["state"] == "completed"
    details = client.deployments.get_job_details(job_id)
    output = details["entity"]["scoring"]["output_data_reference"]["location"]["href"]
    output_id = output.split("/v2/assets/")[1].split("?")[0]
    written = tmp_path / "scored.csv"
    client.data_assets.download(output_id, str(written))
    labels, _ = expected(model_files, frame.to_numpy())
    assert pd.read_csv(written)["prediction"].tolist() == labels


def test_list_cancel_and_hard_delete_jobs(client: APIClient) -> None:
    listed = client.deployments.get_job_details()["resources"]
    assert STATE["inline_job"] in [job["metadata"]["id"] for job in listed]
    assert client.deployments.delete_job(STATE["inline_job"]) == "SUCCESS"  # cancel: the record stays
    assert client.deployments.get_job_details(STATE["inline_job"])["metadata"]["id"] == STATE["inline_job"]
    assert client.deployments.delete_job(STATE["inline_job"], hard_delete=True) == "SUCCESS"
    with pytest.raises(WMLClientError):
        client.deployments.get_job_details(STATE["inline_job"])


def test_delete_deployments(client: APIClient) -> None:
    for key in ("batch", "online"):
        assert client.deployments.delete(STATE[key]) == "SUCCESS"
    with pytest.raises(WMLClientError):
        client.deployments.get_details(STATE["online"])


def test_a_second_client_with_username_and_api_key(server: RunningServer) -> None:
    other = APIClient(Credentials(url=server.url, username="admin", api_key=server.admin_api_key, verify=False))
    assert other.spaces.get_details()["resources"]
