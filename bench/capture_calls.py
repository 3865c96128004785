"""What prediction capture costs a prediction, in-process: CPU per WML call with capture on and off.

    .venv/bin/python bench/capture_calls.py [--rows 1] [--calls 4000] [--rounds 3]

bench/run.py's model is deployed twice on an in-process app (as the API tests make one), capture on for one
deployment and off for the other, and the same body is sent straight to the app's ASGI callable for each
in turn, call by call (bench/face_calls.py's way), so both see the same cache and the same drift. Per
round: the median CPU per call of the process (which counts the capture writer's thread) and of the event
loop thread, and capture's share. `make bench` measures the same thing under load, between two
servers' runs; this one says what capture adds to one request without the network's noise.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import face_calls  # bench/face_calls.py  # noqa: E402
import run  # bench/run.py  # noqa: E402

from tests.api.test_wml_routes import serving  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1, help="rows per request (default 1)")
    parser.add_argument("--calls", type=int, default=4000, help="calls per deployment per round (default 4000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, each reported (default 3)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        model = run.fit_model(work)
        body = run.write_bodies(work, [args.rows])[args.rows].read_bytes()
        with serving(work / "home", "alice") as server:
            space, deployments = face_calls.deploy_bench_model(server, model, ["capture on", "capture off"])
            switched = server.call(
                "PATCH",
                f"/ml/v4/deployments/{deployments['capture off']}/settings",
                json={"predictions_data_collection": {"enabled": False}},
                params={"space_id": space, **run.WML_VERSION},
            )
            if switched.status_code != 200:
                raise SystemExit(f"switching capture off answered {switched.status_code}: {switched.text}")
            time.sleep(1.5)  # the follower polls every 100 ms
            authorization = server.as_("alice")["Authorization"]
            calls = {
                name: face_calls.asgi_call(
                    server.client.app,
                    f"/ml/v4/deployments/{deployment_id}/predictions",
                    body,
                    "application/json",
                    authorization,
                )
                for name, deployment_id in deployments.items()
            }
            for number in range(args.rounds):
                medians = face_calls.measure(server, calls, args.calls)
                (on_process, on_loop), (off_process, off_loop) = medians["capture on"], medians["capture off"]
                run.log(
                    f"round {number + 1}, {args.rows} row(s): median CPU per call, µs (process | loop thread): "
                    f"capture on {on_process:.1f} | {on_loop:.1f}, off {off_process:.1f} | {off_loop:.1f}: "
                    f"capture's share {on_process / off_process - 1:+.1%} | {on_loop / off_loop - 1:+.1%}"
                )


if __name__ == "__main__":
    main()
