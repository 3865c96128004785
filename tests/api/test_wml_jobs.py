"""Deployment jobs and data assets through the WML face, in-process, as the WML client drives them."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from typing import Any

import httpx
import joblib
import numpy as np
import pandas as pd
import pytest

from champion.context import bootstrap
from champion.jobs.tables import DataAsset
from tests.api.test_wml_deployments import deploy, upload_model, wait_until_settled
from tests.api.test_wml_routes import Server, assert_wml_error, serving
from tests.model_files import FEATURES, ModelFiles, training_data

V = {"version": "2026-10-14"}
TERMINAL = ("completed", "failed", "canceled")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("jobs-home"), "alice", "bob", "mallory") as server:
        yield server


@pytest.fixture(scope="module")
def space(server: Server) -> str:
    space_id: str = server.call("POST", "/v2/spaces", json={"name": "team"}).json()["metadata"]["id"]
    members = {"members": [{"id": server.ids["bob"], "type": "user", "role": "viewer"}]}
    server.call("POST", f"/v2/spaces/{space_id}/members", json=members)
    return space_id


@pytest.fixture(scope="module")
def batch(server: Server, space: str, model_files: ModelFiles) -> tuple[str, str]:
    """A ready batch deployment of the named classifier: (deployment id, model id)."""
    model_id = upload_model(server, space, model_files.classifier_named.read_bytes(), name="clf")
    body = {"name": "nightly", "batch": {}, "hardware_spec": {"name": "S"}, "online": None}
    created = deploy(server, space, model_id, **body)
    assert wait_until_settled(server, space, created["metadata"]["id"])["entity"]["status"]["state"] == "ready"
    return created["metadata"]["id"], model_id


def create_job(
    server: Server, space: str, deployment_id: str, scoring: dict[str, Any], who: str = "alice"
) -> httpx.Response:
    body = {"scoring": scoring, "deployment": {"id": deployment_id}, "space_id": space, "name": "name_x"}
    return server.call("POST", "/ml/v4/deployment_jobs", who=who, params={**V, "space_id": space}, json=body)


def job_details(server: Server, space: str, job_id: str, who: str = "alice") -> httpx.Response:
    return server.call("GET", f"/ml/v4/deployment_jobs/{job_id}", who=who, params={**V, "space_id": space})


def wait_for(server: Server, space: str, job_id: str, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        details: dict[str, Any] = job_details(server, space, job_id).json()
        if details["entity"]["scoring"]["status"]["state"] in TERMINAL:
            return details
        assert time.monotonic() < deadline, "the job never ended"
        time.sleep(0.05)


def upload_asset(server: Server, space: str, name: str, content: bytes, *, multipart: bool = True) -> str:
    """The four requests of client.data_assets.create(name, file_path)."""
    params = {**V, "space_id": space}
    meta = {
        "name": name,
        "description": "",
        "asset_type": "data_asset",
        "origin_country": "us",
        "asset_category": "USER",
    }
    created = server.call(
        "POST",
        "/v2/assets",
        params=params,
        json={"metadata": meta, "entity": {"data_asset": {"mime_type": "text/csv"}}},
    )
    assert created.status_code == 201, created.text
    asset_id: str = created.json()["metadata"]["asset_id"]
    body = {"asset_type": "data_asset", "name": name, "mime": "text/csv"}
    attachment = server.call("POST", f"/v2/assets/{asset_id}/attachments", params=params, json=body)
    assert attachment.status_code == 201, attachment.text
    url, attachment_id = attachment.json()["url1"], attachment.json()["attachment_id"]
    # No Authorization header: the client treats url1 as pre-signed.
    if multipart:
        put = server.client.put(url, files={"file": (name, content, "file")})
    else:
        put = server.client.put(url, content=content)
    assert put.status_code in (200, 201), put.text
    done = server.call("POST", f"/v2/assets/{asset_id}/attachments/{attachment_id}/complete", params=params)
    assert done.status_code == 200, done.text
    return asset_id


def reference(space: str, asset_id: str) -> dict[str, Any]:
    return {"type": "data_asset", "connection": {}, "location": {"href": f"/v2/assets/{asset_id}?space_id={space}"}}


def test_an_inline_job_completes_with_the_models_predictions(
    server: Server, space: str, batch: tuple[str, str], model_files: ModelFiles
) -> None:
    frame, _ = training_data(rows=7, seed=9)
    created = create_job(
        server, space, batch[0], {"input_data": [{"fields": FEATURES, "values": frame.to_numpy().tolist()}]}
    )
    assert created.status_code == 202, created.text
    job_id = created.json()["metadata"]["id"]
    assert created.json()["entity"]["scoring"]["status"]["state"] == "queued"
    details = wait_for(server, space, job_id)
    status = details["entity"]["scoring"]["status"]
    assert (status["state"], status["progress"]) == ("completed", {"rows_scored": 7, "rows_total": 7})
    assert details["entity"]["deployment"]["id"] == batch[0] and status["served_by"] == f"{batch[1]}:1"
    (block,) = details["entity"]["scoring"]["predictions"]
    estimator = joblib.load(model_files.classifier_named)
    assert block["fields"] == ["prediction", "probability"]
    assert [row[0] for row in block["values"]] == estimator.predict(frame).tolist()
    np.testing.assert_allclose([row[1] for row in block["values"]], estimator.predict_proba(frame))
    listed = server.call("GET", "/ml/v4/deployment_jobs", params={**V, "space_id": space, "limit": 200}).json()
    (row,) = [r for r in listed["resources"] if r["metadata"]["id"] == job_id]
    assert row["metadata"]["created_at"] and row["entity"]["deployment"]["id"] == batch[0]
    assert row["entity"]["scoring"]["status"]["state"] == "completed"
    # The start-up sweep of unreferenced blobs must keep job results.
    bootstrap(server.context)
    again = job_details(server, space, job_id).json()
    assert again["entity"]["scoring"]["predictions"] == details["entity"]["scoring"]["predictions"]


def test_csv_and_parquet_data_asset_jobs(
    server: Server, space: str, batch: tuple[str, str], model_files: ModelFiles
) -> None:
    frame, _ = training_data(rows=9, seed=2)
    with_extra = frame[["x2", "x3", "x1"]].assign(id=range(9))
    parquet = io.BytesIO()
    with_extra.to_parquet(parquet)
    csv_id = upload_asset(server, space, "in.csv", with_extra.to_csv(index=False).encode())
    parquet_id = upload_asset(server, space, "in.parquet", parquet.getvalue(), multipart=False)
    details = server.call("GET", f"/v2/assets/{csv_id}", params={**V, "space_id": space}).json()
    assert details["metadata"]["asset_type"] == "data_asset" and details["metadata"]["space_id"] == space
    assert details["href"] and details["metadata"]["created_at"] and isinstance(details["metadata"]["usage"], dict)
    assert details["attachments"][0]["name"] == "in.csv"
    search = server.call(
        "POST", "/v2/asset_types/data_asset/search", params={**V, "space_id": space}, json={"query": "*:*"}
    )
    assert {csv_id, parquet_id} <= {r["metadata"]["asset_id"] for r in search.json()["results"]}
    model_view = server.call("GET", f"/v2/assets/{batch[1]}", params={**V, "space_id": space}).json()
    assert model_view["metadata"]["asset_type"] == "wml_model"  # models still answer on /v2/assets/{id}

    scoring = {
        "input_data_references": [reference(space, csv_id), reference(space, parquet_id)],
        "output_data_reference": {"type": "data_asset", "connection": {}, "location": {"name": "scored.csv"}},
    }
    created = create_job(server, space, batch[0], scoring)
    assert created.status_code == 202, created.text
    details = wait_for(server, space, created.json()["metadata"]["id"])
    assert details["entity"]["scoring"]["status"]["state"] == "completed", details
    expected = joblib.load(model_files.classifier_named).predict(frame).tolist()
    for block in details["entity"]["scoring"]["predictions"]:
        assert [row[0] for row in block["values"]] == expected
    output = details["entity"]["scoring"]["output_data_reference"]["location"]["href"]
    written = server.call("GET", output, params=V).json()
    assert written["metadata"]["name"] == "scored.csv" and written["metadata"]["size"] > 0
    blob = server.context.store.open_path(written_digest(server, written["metadata"]["asset_id"]))
    assert pd.read_csv(blob)["prediction"].tolist() == expected * 2

    # Download as the client does: the attachment's URL works without credentials, for this file only.
    output_id = written["metadata"]["asset_id"]
    (attachment,) = written["attachments"]
    link = server.call("GET", f"/v2/assets/{output_id}/attachments/{attachment['id']}", params=V).json()
    download = server.call("GET", link["url"], who=None)
    assert download.status_code == 200 and pd.read_csv(io.BytesIO(download.content))["prediction"].tolist() == (
        expected * 2
    )
    token = link["url"].split("token=")[1]
    assert server.call("GET", "/v2/spaces", who=None, headers={"Authorization": f"Bearer {token}"}).status_code == 401
    other = f"/v2/assets/{csv_id}/attachments/{attachment['id']}/content?token={token}"
    assert server.call("GET", other, who=None).status_code == 401
    assert_wml_error(
        server.call("GET", f"/v2/assets/{output_id}/attachments/{attachment['id']}", who="mallory", params=V), 404
    )


def written_digest(server: Server, asset_id: str) -> str:
    with server.context.sessions() as session:
        asset = session.get(DataAsset, asset_id)
        assert asset is not None and asset.sha256 is not None
        return asset.sha256


def test_a_csv_missing_a_column_fails_naming_it(server: Server, space: str, batch: tuple[str, str]) -> None:
    frame, _ = training_data(rows=4)
    asset_id = upload_asset(server, space, "partial.csv", frame.drop(columns="x3").to_csv(index=False).encode())
    created = create_job(server, space, batch[0], {"input_data_references": [reference(space, asset_id)]})
    status = wait_for(server, space, created.json()["metadata"]["id"])["entity"]["scoring"]["status"]
    assert status["state"] == "failed"
    (error,) = status["failure"]["errors"]
    assert "missing column 'x3'" in error["message"]


def test_cancel_then_hard_delete(server: Server, space: str, batch: tuple[str, str]) -> None:
    rows = np.random.default_rng(0).normal(size=(100_000, 3))
    asset_id = upload_asset(server, space, "big.csv", pd.DataFrame(rows, columns=FEATURES).to_csv(index=False).encode())
    job_id = create_job(server, space, batch[0], {"input_data_references": [reference(space, asset_id)]}).json()[
        "metadata"
    ]["id"]
    cancelled = server.call("DELETE", f"/ml/v4/deployment_jobs/{job_id}", params={**V, "space_id": space})
    assert cancelled.status_code == 204
    details = wait_for(server, space, job_id)
    status = details["entity"]["scoring"]["status"]
    assert status["state"] == "canceled" and "predictions" not in details["entity"]["scoring"]
    assert status["progress"]["rows_scored"] < 100_000
    gone = server.call(
        "DELETE", f"/ml/v4/deployment_jobs/{job_id}", params={**V, "space_id": space, "hard_delete": "true"}
    )
    assert gone.status_code == 204
    assert_wml_error(job_details(server, space, job_id), 404)
    assert server.call("DELETE", f"/v2/assets/{asset_id}", params={**V, "space_id": space}).status_code == 204
    assert_wml_error(server.call("GET", f"/v2/assets/{asset_id}", params={**V, "space_id": space}), 404)


def test_viewers_read_and_non_members_see_nothing(server: Server, space: str, batch: tuple[str, str]) -> None:
    scoring = {"input_data": [{"fields": FEATURES, "values": [[0.1, 0.2, 0.3]]}]}
    assert_wml_error(create_job(server, space, batch[0], scoring, who="bob"), 403)
    assert_wml_error(create_job(server, space, batch[0], scoring, who="mallory"), 404)
    job_id = create_job(server, space, batch[0], scoring).json()["metadata"]["id"]
    assert job_details(server, space, job_id, who="bob").status_code == 200
    assert_wml_error(job_details(server, space, job_id, who="mallory"), 404)
    params = {**V, "space_id": space}
    assert_wml_error(server.call("DELETE", f"/ml/v4/deployment_jobs/{job_id}", who="bob", params=params), 403)
    assert_wml_error(server.call("DELETE", f"/ml/v4/deployment_jobs/{job_id}", who="mallory", params=params), 404)


def test_online_deployments_and_bad_input_are_refused(
    server: Server, space: str, batch: tuple[str, str], model_files: ModelFiles
) -> None:
    count = len(server.call("GET", "/ml/v4/deployment_jobs", params={**V, "space_id": space}).json()["resources"])
    online = deploy(server, space, batch[1], name="online")["metadata"]["id"]
    wait_until_settled(server, space, online)
    good = {"input_data": [{"fields": FEATURES, "values": [[0.1, 0.2, 0.3]]}]}
    assert "online" in assert_wml_error(create_job(server, space, online, good), 400, "deployment.id")
    bad = {"input_data": [{"fields": ["x1", "x2"], "values": [[0.1, 0.2]]}]}
    assert "x3" in assert_wml_error(create_job(server, space, batch[0], bad), 400, "scoring.input_data[0].fields")
    wrong_ref = {"input_data_references": [{"type": "s3", "connection": {}, "location": {"path": "x"}}]}
    assert_wml_error(create_job(server, space, batch[0], wrong_ref), 400, "scoring.input_data_references[0].type")
    assert (
        len(server.call("GET", "/ml/v4/deployment_jobs", params={**V, "space_id": space}).json()["resources"]) == count
    )


def test_upload_urls_need_their_secret(server: Server, space: str) -> None:
    params = {**V, "space_id": space}
    meta = {"metadata": {"name": "x", "asset_type": "data_asset"}, "entity": {"data_asset": {"mime_type": "text/csv"}}}
    asset_id = server.call("POST", "/v2/assets", params=params, json=meta).json()["metadata"]["asset_id"]
    attachment = server.call("POST", f"/v2/assets/{asset_id}/attachments", params=params, json={"name": "x.csv"}).json()
    forged = attachment["url1"].split("?")[0] + "?token=guess"
    assert_wml_error(server.client.put(forged, content=b"x1\n1\n"), 403)
    assert_wml_error(server.call("POST", "/v2/assets", who="bob", params=params, json=meta), 403)
