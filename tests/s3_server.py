"""An S3-compatible server for tests: moto's, in a subprocess on a free port of 127.0.0.1.

A subprocess rather than moto's ThreadedMotoServer: the real `champion serve` processes a test starts
must reach it as well, and a server inside the test process would share its GIL and its memory with the
code under test (a test measuring an upload's memory would count moto's copy). No real S3 server (MinIO,
SeaweedFS, Garage) can be installed here from PyPI, Debian or npm, so moto stands in.

In a test module:

    from tests import s3_server
    from tests.s3_server import S3Server

    s3 = s3_server.s3  # the module-scoped fixture: one server and one fresh bucket per module

    def test_x(s3: S3Server, tmp_path: Path) -> None:
        with running_server(tmp_path, **s3.env): ...        # CHAMPION_ARTIFACTS_URL and the AWS_* variables
        s3.client().list_objects_v2(Bucket=s3.bucket)        # assertions on the bucket itself

While the fixture lives, this process's environment holds the AWS_* variables of `s3.env` (not
CHAMPION_ARTIFACTS_URL), so a store opened in-process reaches the server too. `running_s3()` is the same
as a context manager, for another scope. When moto cannot start, the fixture skips with the reason,
unless CHAMPION_REQUIRE_S3=1 (CI), where it fails.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers import free_port, stop, tail

STARTUP_SECONDS = 30.0
PREFIX = "blobs"


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    """`http://127.0.0.1:<port>`."""
    bucket: str
    """A bucket created for this server's user, empty at first."""
    url: str
    """`s3://<bucket>/blobs`, what CHAMPION_ARTIFACTS_URL says."""
    env: dict[str, str]
    """AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION and CHAMPION_ARTIFACTS_URL."""

    def url_for(self, prefix: str) -> str:
        """Another place in the same bucket, for a test that wants a store of its own."""
        return f"s3://{self.bucket}/{prefix}"

    def client(self) -> Any:
        """A boto3 S3 client of the server, for assertions (and for tampering with objects)."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
            region_name=self.env["AWS_REGION"],
        )

    def object_keys(self, prefix: str = PREFIX) -> list[str]:
        """Every object key under `prefix` in the bucket."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=f"{prefix}/")
        return [str(item["Key"]) for page in pages for item in page.get("Contents", ())]


def unavailable(reason: str) -> None:
    """Skip, or fail under CHAMPION_REQUIRE_S3=1."""
    message = f"no S3 server for the test: {reason}"
    if os.environ.get("CHAMPION_REQUIRE_S3") == "1":
        pytest.fail(message + " (CHAMPION_REQUIRE_S3=1)", pytrace=False)
    pytest.skip(message)


@contextmanager
def running_s3() -> Iterator[S3Server]:
    """moto's S3 server with one fresh bucket; the AWS_* variables set in this process while it runs."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="champion-s3-") as folder:
        log = Path(folder) / "moto.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        try:
            _wait_until_ready(process, endpoint, log)
            bucket = f"champion-{secrets.token_hex(4)}"
            env = {
                "AWS_ENDPOINT_URL": endpoint,
                "AWS_ACCESS_KEY_ID": "champion-test",
                "AWS_SECRET_ACCESS_KEY": secrets.token_hex(16),
                "AWS_REGION": "us-east-1",
            }
            url = f"s3://{bucket}/{PREFIX}"
            server = S3Server(endpoint, bucket, url, {**env, "CHAMPION_ARTIFACTS_URL": url})
            server.client().create_bucket(Bucket=bucket)
            with pytest.MonkeyPatch.context() as patch:
                for name, value in env.items():
                    patch.setenv(name, value)
                yield server
        finally:
            stop(process)


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with running_s3() as server:
        yield server


def _wait_until_ready(process: subprocess.Popen[bytes], endpoint: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    problem = "no attempt yet"
    with httpx.Client(timeout=2.0) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                unavailable(f"moto's server exited with code {process.returncode}: {tail(log, 600)}")
            try:
                if http.get(f"{endpoint}/moto-api/").status_code == 200:
                    return
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            time.sleep(0.1)
    unavailable(f"moto's server did not answer within {STARTUP_SECONDS:.0f} s ({problem})")
