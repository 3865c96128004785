"""The HTTP floor: the fastest answer this machine's uvicorn gives, for every figure to be measured against.

One plain Starlette route that reads the request body (wrk sends the same bytes it sends
champion) and answers a constant JSON body in WML's shape. No model, no parsing, no auth:
whatever champion spends above this server's time per request is champion's own, and no
Python server on the same uvicorn settings can go faster.

Run by bench/run.py as `python bench/floor_app.py --port PORT [--workers N]`, with the uvicorn
settings `champion serve` uses (uvloop, httptools, log level info, so it writes an access-log
line per request as champion does).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

ANSWER = b'{"predictions":[{"fields":["prediction","probability"],"values":[[0,[0.5,0.5]]]}]}'


async def constant(request: Request) -> Response:
    await request.body()  # the body crosses the socket either way; reading it is part of any route's floor
    return Response(ANSWER, media_type="application/json")


async def health(request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


app = Starlette(
    routes=[
        Route("/health", health, methods=["GET"]),
        Route("/ml/v4/deployments/{deployment_id}/predictions", constant, methods=["POST"]),
    ]
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    # An import string, so that uvicorn can start more than one worker process.
    uvicorn.run(
        "floor_app:app",
        app_dir=str(Path(__file__).resolve().parent),
        host=args.host,
        port=args.port,
        workers=args.workers,
        loop="uvloop",
        http="httptools",
        log_level="info",
    )


if __name__ == "__main__":
    main()
