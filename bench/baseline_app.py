"""The baseline: the scoring service a team would write by hand with FastAPI, for comparison.

It is deliberately ordinary: the FastAPI tutorial's shape (a pydantic request model, a plain
`def` handler that FastAPI runs in its thread pool, a dict answer that FastAPI serialises),
one model loaded with joblib at start-up, and per request a pandas DataFrame built from the
WML body (`input_data[0].fields/values`) and one `predict_proba` call. It answers in the WML
shape champion answers in, so both servers do the same work for the same bytes.

Run by bench/run.py as `python bench/baseline_app.py --model PATH --port PORT`, with the
uvicorn settings `champion serve` uses (uvloop, httptools, one worker unless `--workers N`, log level info).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel


class InputBlock(BaseModel):
    fields: list[str]
    values: list[list[float]]


class ScoringRequest(BaseModel):
    input_data: list[InputBlock]


def create_app(model_path: str) -> FastAPI:
    model = joblib.load(model_path)
    classes = model.classes_
    app = FastAPI()

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/ml/v4/deployments/{deployment_id}/predictions")
    def predictions(deployment_id: str, body: ScoringRequest) -> dict[str, Any]:
        block = body.input_data[0]
        frame = pd.DataFrame(block.values, columns=block.fields)
        probabilities = model.predict_proba(frame)
        labels = classes[probabilities.argmax(axis=1)].tolist()
        values = [[label, row] for label, row in zip(labels, probabilities.tolist(), strict=True)]
        return {"predictions": [{"fields": ["prediction", "probability"], "values": values}]}

    return app


def app_from_environment() -> FastAPI:
    """The factory uvicorn calls in each worker when there are several (it needs an import string)."""
    return create_app(os.environ["BENCH_BASELINE_MODEL"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="joblib file of a fitted classifier")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    os.environ["BENCH_BASELINE_MODEL"] = args.model
    uvicorn.run(
        "baseline_app:app_from_environment",
        factory=True,
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
