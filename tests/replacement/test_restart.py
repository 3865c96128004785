"""A server killed during a replacement: restarted, it ends the operation and serves one model."""

from __future__ import annotations

import secrets
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.model_files import FEATURES, ModelFiles, build_variants
from tests.replacement.test_zero_downtime import set_up
from tests.servers import running_server

V = {"version": "2026-10-14"}
ROW = {"input_data": [{"fields": FEATURES, "values": [[0.3, -0.1, 0.8]]}]}


def test_a_kill_mid_replacement_ends_cleanly_after_restart(
    tmp_path: Path, model_files: ModelFiles, tmp_path_factory: pytest.TempPathFactory
) -> None:
    key = f"chp_{secrets.token_hex(6)}.{secrets.token_urlsafe(32)}"
    retrained = build_variants(tmp_path_factory.mktemp("candidates"))["retrained"]
    with running_server(tmp_path, tls=False, admin_key=key) as first:
        space, model, deployment = set_up(first, model_files, retrained)
        patch = [{"op": "replace", "path": "/asset", "value": {"id": model, "rev": "2"}}]
        # The PATCH validates in the trial process, which the server's first validation spawns: seconds on a
        # loaded machine, beyond httpx's default 5 s.
        with httpx.Client(base_url=first.url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
            response = http.patch(f"/ml/v4/deployments/{deployment}", params={**V, "space_id": space}, json=patch)
        assert response.status_code == 202, response.text
        first.process.send_signal(signal.SIGKILL)  # no shutdown of any kind
        first.process.wait(timeout=10)

    with (
        running_server(tmp_path, tls=False, admin_key=key) as second,
        httpx.Client(base_url=second.url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as http,
    ):
        deadline = time.monotonic() + 60
        while True:
            details = http.get(f"/ml/v4/deployments/{deployment}", params={"space_id": space}).json()
            if details["entity"]["status"]["state"] == "ready":
                break
            assert time.monotonic() < deadline, details["entity"]["status"]
            time.sleep(0.1)
        (record,) = http.get(f"/ml/v4/deployments/{deployment}/replacements").json()["resources"]
        assert record["entity"]["outcome"] in ("succeeded", "failed")
        rev = details["entity"]["asset"]["rev"]
        assert rev == ("2" if record["entity"]["outcome"] == "succeeded" else "1")
        answers = {
            http.post(f"/ml/v4/deployments/{deployment}/predictions", params=V, json=ROW).headers[
                "Champion-Model-Version"
            ]
            for _ in range(20)
        }
        assert answers == {f"{model}:{rev}"}
