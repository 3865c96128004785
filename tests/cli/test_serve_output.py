"""What a real `champion serve` writes to its output: never a credential, except a generated admin key once."""

from __future__ import annotations

import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

from champion.logredact import redact
from tests.servers import cli_env, free_port, stop, wait_until_ready


@contextmanager
def serve(root: Path, *args: str, **env: str) -> Iterator[tuple[str, Path]]:
    """`champion serve --no-tls ARGS` on a free port, its output (stdout and stderr) going to a file."""
    url, log = f"http://127.0.0.1:{(port := free_port())}", root / "output.log"
    command = [sys.executable, "-m", "champion", "serve", "--no-tls", "--host", "127.0.0.1", "--port", str(port), *args]
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=cli_env(root / "home", **env))
    try:
        wait_until_ready(process, url, log)
        yield url, log
    finally:
        stop(process)


def test_query_string_secrets_and_the_given_admin_key_stay_out_of_the_output(tmp_path: Path) -> None:
    admin_key = f"chp_{secrets.token_hex(6)}.{secrets.token_urlsafe(32)}"
    secrets_sent = {admin_key}
    # Two workers: uvicorn spawns them as fresh processes, which configure their own logging.
    with (
        serve(tmp_path, "--access-log", "--workers", "2", CHAMPION_ADMIN_API_KEY=admin_key) as (url, log),
        httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin_key}"}) as http,
    ):
        space = http.post("/v2/spaces", json={"name": "s"}).json()["metadata"]["id"]
        body = {"metadata": {"name": "in.csv", "asset_type": "data_asset"}}
        asset = http.post("/v2/assets", params={"space_id": space}, json=body).json()["metadata"]["asset_id"]
        attachment = http.post(f"/v2/assets/{asset}/attachments", params={"space_id": space}, json={}).json()
        # The client sends neither URL its Authorization header: the secret is in the query string.
        upload_url = attachment["url1"]
        secrets_sent.add(parse_qs(urlsplit(upload_url).query)["token"][0])
        assert httpx.put(url + upload_url, content=b"x1\n1\n").status_code == 201
        described = http.get(
            f"/v2/assets/{asset}/attachments/{attachment['attachment_id']}", params={"space_id": space}
        )
        download_url = described.json()["url"]
        secrets_sent.add(parse_qs(urlsplit(download_url).query)["token"][0])
        assert httpx.get(url + download_url).content == b"x1\n1\n"
        # Other names clients put credentials under, beside ordinary parameters.
        for name in ("api_key", "apikey", "access_token", "Token"):
            value = secrets.token_urlsafe(16)
            secrets_sent.add(value)
            http.get("/v2/spaces", params={"limit": "5", name: value, "zz": "visible"})
    output = log.read_text()
    assert "upload?token=*** HTTP/1.1" in output  # the line is there, with its secret masked
    assert re.search(r"/v2/spaces\?limit=5&api_key=\*\*\*&zz=visible HTTP/1\.1\" 200", output)
    assert "Its API key is the one in CHAMPION_ADMIN_API_KEY" in output
    assert "$CHAMPION_ADMIN_API_KEY" in output
    leaked = [secret for secret in secrets_sent if secret in output]
    assert leaked == [], output


def test_a_generated_admin_key_is_shown_at_first_start_and_works(tmp_path: Path) -> None:
    with serve(tmp_path) as (url, log):
        found = re.search(r"Admin API key, shown once, keep it safe: (\S+)", log.read_text())
        assert found is not None, log.read_text()
        spaces = httpx.get(url + "/v2/spaces", headers={"Authorization": f"Bearer {found.group(1)}"})
        assert spaces.status_code == 200


def test_redact_keeps_everything_but_secret_values() -> None:
    line = '127.0.0.1:5 - "GET /a?x=1&token=abc.def&%74oken=enc&api%5Fkey=k&tokens=keep#f HTTP/1.1" 200'
    assert redact(line) == '127.0.0.1:5 - "GET /a?x=1&token=***&%74oken=***&api%5Fkey=***&tokens=keep#f HTTP/1.1" 200'
    assert redact("no query ?here and token=outside-a-query") == "no query ?here and token=outside-a-query"
