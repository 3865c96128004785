"""CPU per request of each prediction face, in-process: the app called as ASGI, no socket, no server.

    .venv/bin/python bench/face_calls.py [--calls 5000] [--rounds 3] [--rows 1]

bench/run.py's model (a 100-tree GradientBoostingClassifier on 20 float features) is deployed on an
in-process app (as the API tests make one), and each face's body for 1 row (bench/faces.py's bodies,
byte for byte) is sent straight to the app's ASGI callable on its event loop, the faces taking turns
call by call so drift hits them alike. Per call: the process's CPU (`process_time_ns`, which counts the
model's thread too) and the event loop thread's (`thread_time_ns`, where the route's own work runs).
Medians over the calls, as a ratio to the WML route's; the live load (`make bench`) is the figure that
counts, this one says where a face's own CPU goes without the network's noise.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import faces  # bench/faces.py  # noqa: E402
import run  # bench/run.py  # noqa: E402

from tests.api.test_wml_deployments import deploy, upload_model, wait_until_settled  # noqa: E402
from tests.api.test_wml_routes import Server, serving  # noqa: E402


def asgi_call(app: Any, path: str, body: bytes, content_type: str, authorization: str) -> Callable[[], Any]:
    """A coroutine function that sends one request to `app` and returns its status."""
    scope_template = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", content_type.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"authorization", authorization.encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    message = {"type": "http.request", "body": body, "more_body": False}

    async def call() -> int:
        sent: list[dict[str, Any]] = []
        delivered = False

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if delivered:
                return {"type": "http.disconnect"}
            delivered = True
            return message

        async def send(event: dict[str, Any]) -> None:
            sent.append(event)

        await app({**scope_template, "state": {}}, receive, send)
        status: int = sent[0]["status"]
        return status

    return call


def measure(server: Server, calls: dict[str, Callable[[], Any]], count: int) -> dict[str, tuple[float, float]]:
    """Median (process µs, loop-thread µs) per call for each face, the faces taking turns."""

    async def loop() -> dict[str, tuple[list[int], list[int]]]:
        times: dict[str, tuple[list[int], list[int]]] = {name: ([], []) for name in calls}
        for name, call in calls.items():  # warm up
            for _ in range(200):
                assert await call() == 200, name
        for _ in range(count):
            for name, call in calls.items():
                p0, t0 = time.process_time_ns(), time.thread_time_ns()
                status = await call()
                t1, p1 = time.thread_time_ns(), time.process_time_ns()
                if status != 200:
                    raise RuntimeError(f"{name} answered {status}")
                times[name][0].append(p1 - p0)
                times[name][1].append(t1 - t0)
        return times

    portal = server.client.portal
    assert portal is not None
    times = portal.call(loop)
    return {name: (statistics.median(p) / 1e3, statistics.median(t) / 1e3) for name, (p, t) in times.items()}


def deploy_bench_model(server: Server, model: Path, names: list[str]) -> tuple[str, dict[str, str]]:
    """bench/run.py's model uploaded to a new space and deployed once per name, each settled (its serving
    form logged): the space's id and each deployment's."""
    space = server.call("POST", "/v2/spaces", json={"name": "bench"}).json()["metadata"]["id"]
    model_id = upload_model(server, space, model.read_bytes(), name="bench")
    deployments = {}
    for name in names:
        deployments[name] = deploy(server, space, model_id, name=name)["metadata"]["id"]
        status = wait_until_settled(server, space, deployments[name], timeout=120)["entity"]["status"]
        run.log(f"{name}: serving form {status.get('serving_form')}")
    return space, deployments


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=5000, help="calls per face per round (default 5000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, each reported (default 3)")
    parser.add_argument("--rows", type=int, default=1, help="rows per request (default 1)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        model = run.fit_model(work)
        body = run.write_bodies(work, [args.rows])[args.rows]
        with serving(work / "home", "alice") as server:
            _, deployments = deploy_bench_model(server, model, ["bench"])
            deployment_id = deployments["bench"]
            authorization = server.as_("alice")["Authorization"]
            wml_path = f"/ml/v4/deployments/{deployment_id}/predictions"
            calls = {
                face.name: asgi_call(
                    server.client.app, face.path, face.body.read_bytes(), face.content_type, authorization
                )
                for face in faces.faces(wml_path, deployment_id, body, work)
            }
            for number in range(args.rounds):
                medians = measure(server, calls, args.calls)
                wml = medians[faces.WML]
                run.log(f"round {number + 1}: median CPU per call, µs (process | loop thread), ratio to WML")
                for name, (process, thread) in medians.items():
                    run.log(
                        f"  {name:32s} {process:7.1f} | {thread:7.1f}   {process / wml[0]:.3f} | {thread / wml[1]:.3f}"
                    )


if __name__ == "__main__":
    main()
