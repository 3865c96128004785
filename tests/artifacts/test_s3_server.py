"""A real `champion serve` keeping its blobs in a bucket (moto's S3 server): models, data assets, job
results and captured predictions all land there and none in `<home>/artifacts`; a restart with an empty
cache serves the model again from the bucket; deleting the model deletes its object."""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import joblib
import pandas as pd
import pytest

from tests import s3_server
from tests.model_files import FEATURES, ModelFiles, training_data
from tests.s3_server import S3Server
from tests.servers import RunningServer, cli_env, free_port, running_server

s3 = s3_server.s3

V = {"version": "2026-10-14"}
FLUSH = {"CHAMPION_CAPTURE_FLUSH_SECONDS": "0.2"}


def client(server: RunningServer) -> httpx.Client:
    headers = {"Authorization": f"Bearer {server.admin_api_key}"}
    return httpx.Client(base_url=server.url, headers=headers, timeout=30)


def eventually(what: str, check: Callable[[], Any], timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, f"{what} never happened"
        time.sleep(0.1)
    return found


def digests(s3: S3Server) -> set[str]:
    return {key.rsplit("/", 1)[-1] for key in s3.object_keys()}


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def upload_model(http: httpx.Client, space: str, content: bytes) -> str:
    spec = http.get("/v2/software_specifications").json()["resources"][0]["metadata"]["asset_id"]
    body = {"name": "m", "type": "scikit-learn_1.3", "software_spec": {"id": spec}, "space_id": space}
    model: str = http.post("/ml/v4/models", params=V, json=body).json()["metadata"]["id"]
    put = http.put(f"/ml/v4/models/{model}/content", params={"space_id": space}, content=content)
    assert put.status_code == 201, put.text
    return model


def deploy(http: httpx.Client, space: str, model: str, **kind: Any) -> str:
    body = {"name": "d", "asset": {"id": model}, "space_id": space, **kind}
    created = http.post("/ml/v4/deployments", params=V, json=body)
    assert created.status_code == 202, created.text
    deployment: str = created.json()["metadata"]["id"]
    wait_ready(http, space, deployment)
    return deployment


def wait_ready(http: httpx.Client, space: str, deployment: str) -> None:
    def state() -> str:
        status = http.get(f"/ml/v4/deployments/{deployment}", params={"space_id": space}).json()["entity"]["status"]
        assert status["state"] != "failed", status
        return str(status["state"]) if status["state"] == "ready" else ""

    eventually("the deployment becoming ready", state)


def score(http: httpx.Client, deployment: str, frame: pd.DataFrame) -> list[Any]:
    body = {"input_data": [{"fields": FEATURES, "values": frame.to_numpy().tolist()}]}
    response = http.post(f"/ml/v4/deployments/{deployment}/predictions", params=V, json=body)
    assert response.status_code == 200, response.text
    return [row[0] for row in response.json()["predictions"][0]["values"]]


def upload_asset(http: httpx.Client, space: str, name: str, content: bytes) -> str:
    """The four requests of the WML client's data_assets.create."""
    params = {**V, "space_id": space}
    meta = {"name": name, "asset_type": "data_asset", "origin_country": "us", "asset_category": "USER"}
    body = {"metadata": meta, "entity": {"data_asset": {"mime_type": "text/csv"}}}
    asset: str = http.post("/v2/assets", params=params, json=body).json()["metadata"]["asset_id"]
    attachment = http.post(
        f"/v2/assets/{asset}/attachments",
        params=params,
        json={"asset_type": "data_asset", "name": name, "mime": "text/csv"},
    ).json()
    assert http.put(attachment["url1"], files={"file": (name, content, "file")}).is_success
    done = http.post(f"/v2/assets/{asset}/attachments/{attachment['attachment_id']}/complete", params=params)
    assert done.status_code == 200, done.text
    return asset


def download_asset(http: httpx.Client, asset: str) -> bytes:
    described = http.get(f"/v2/assets/{asset}", params=V).json()
    (attachment,) = described["attachments"]
    link = http.get(f"/v2/assets/{asset}/attachments/{attachment['id']}", params=V).json()["url"]
    response = http.get(link)
    assert response.status_code == 200, response.text
    return response.content


def run_job(http: httpx.Client, space: str, deployment: str, asset: str) -> dict[str, Any]:
    reference = {"type": "data_asset", "connection": {}, "location": {"href": f"/v2/assets/{asset}?space_id={space}"}}
    output = {"type": "data_asset", "connection": {}, "location": {"name": "scored.csv"}}
    scoring = {"input_data_references": [reference], "output_data_reference": output}
    body = {"scoring": scoring, "deployment": {"id": deployment}, "space_id": space, "name": "job"}
    created = http.post("/ml/v4/deployment_jobs", params={**V, "space_id": space}, json=body)
    assert created.status_code == 202, created.text
    url = f"/ml/v4/deployment_jobs/{created.json()['metadata']['id']}"

    def ended() -> dict[str, Any] | None:
        details: dict[str, Any] = http.get(url, params={**V, "space_id": space}).json()
        done = details["entity"]["scoring"]["status"]["state"] in ("completed", "failed", "canceled")
        return details if done else None

    details: dict[str, Any] = eventually("the job ending", ended)
    assert details["entity"]["scoring"]["status"]["state"] == "completed", details
    return details


def test_every_blob_lives_in_the_bucket_and_an_empty_cache_is_filled_from_it(
    s3: S3Server, tmp_path_factory: pytest.TempPathFactory, model_files: ModelFiles
) -> None:
    root = tmp_path_factory.mktemp("s3-server")
    content = model_files.classifier_named.read_bytes()
    model_digest = hashlib.sha256(content).hexdigest()
    frame, _ = training_data(rows=6, seed=4)
    expected = joblib.load(model_files.classifier_named).predict(frame).tolist()
    csv = frame.to_csv(index=False).encode()

    with running_server(root, tls=False, **FLUSH, **s3.env) as server, client(server) as http:
        home = server.home
        space = http.post("/v2/spaces", json={"name": "bucketed"}).json()["metadata"]["id"]
        model = upload_model(http, space, content)
        assert digests(s3) == {model_digest}
        online = deploy(http, space, model, online={})
        assert score(http, online, frame) == expected
        captured = eventually("a capture file in the bucket", lambda: digests(s3) - {model_digest})

        asset = upload_asset(http, space, "rows.csv", csv)
        assert hashlib.sha256(csv).hexdigest() in digests(s3)
        batch = deploy(http, space, model, batch={}, hardware_spec={"name": "S"}, online=None)
        before_job = digests(s3)
        job = run_job(http, space, batch, asset)
        assert [row[0] for row in job["entity"]["scoring"]["predictions"][0]["values"]] == expected
        results = digests(s3) - before_job
        assert results, "the job's result and output file are not in the bucket"
        output = job["entity"]["scoring"]["output_data_reference"]["location"]["href"].split("/")[-1].split("?")[0]
        assert pd.read_csv(io.BytesIO(download_asset(http, output)))["prediction"].tolist() == expected
        assert download_asset(http, asset) == csv

        assert files_under(home / "artifacts") == []
        cached = {p.name for p in files_under(home / "cache" / "sha256")}
        assert {model_digest, hashlib.sha256(csv).hexdigest()} | captured <= cached  # the uploader's own copies
        admin_key = server.admin_api_key

    shutil.rmtree(home / "cache")
    with running_server(root, tls=False, admin_key=admin_key, **FLUSH, **s3.env) as again, client(again) as http:
        wait_ready(http, space, online)
        assert score(http, online, frame) == expected  # the model came back from the bucket
        assert (home / "cache" / "sha256" / model_digest[:2] / model_digest).read_bytes() == content
        assert download_asset(http, asset) == csv

        for deployment in (online, batch):
            assert http.delete(f"/ml/v4/deployments/{deployment}", params={"space_id": space}).status_code == 204
        assert http.delete(f"/ml/v4/models/{model}", params={"space_id": space}).status_code == 204
        assert model_digest not in digests(s3)
        assert not (home / "cache" / "sha256" / model_digest[:2] / model_digest).exists()
        assert hashlib.sha256(csv).hexdigest() in digests(s3)  # the data asset still names its blob
        assert files_under(home / "artifacts") == []


def test_a_bucket_that_cannot_be_used_stops_the_start_in_one_line(s3: S3Server, tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = cli_env(home, **{**s3.env, "CHAMPION_ARTIFACTS_URL": "s3://no-such-bucket/blobs"})
    command = [sys.executable, "-m", "champion", "serve", "--no-tls", "--port", str(free_port())]
    done = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr.strip() == (
        f"error: cannot use s3://no-such-bucket/blobs: the bucket 'no-such-bucket' does not exist at {s3.endpoint}"
    )
    assert not (home / "champion.db").exists()  # stopped before the database was created
