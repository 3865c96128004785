"""What one prediction-capture flush costs, stage by stage, per captured row.

`make bench` measures capture's cost under load (the top concurrency with capture off and on); this
says where a flush's time goes. It deploys a small model with the bench's 20 features on `champion
serve` (so the home holds the deployment, its version and signature as the server writes them) and
stops the server; then, in this process, a `CaptureWriter` over that home's database and artifact
store flushes what the serving path would have offered: `--requests` requests of `--rows` rows each
(float64 rows, int64 labels and float64 probabilities, as the compiled form answers), offered to a
`CaptureBuffer`, then `flush_now`. Each flush is timed on this thread's CPU clock, stage by stage:

- gather: the requests into one set of columns (`files.gather`);
- write: the Parquet file (`files.write`);
- keep: hashing it (sha256) and moving it into the artifact store;
- drift: `drift.observe`, counting the rows into the drift bins (the first flush makes the baseline);
- database: the rest (the deployment check, the file's row, the service windows, the commit).

The first `--warmup` flushes (baseline, first imports) are not counted. The share of one core is the
CPU of a flush per row times `--rate` rows a second (100-row requests at 1,400 req/s: 140,000).

    .venv/bin/python bench/capture_flush.py [--rows 100] [--requests 250] [--flushes 20] [--warmup 3]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import run  # noqa: E402  (bench/run.py: the server start/stop and deployment through the WML face)
from run import log  # noqa: E402

STAGES = ("gather", "write", "keep", "drift", "database")


def fit_small_model(folder: Path) -> Path:
    """A logistic regression on the bench's 20 named features: its signature is what the flush needs."""
    import joblib
    import pandas as pd
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    x, y = make_classification(n_samples=2_000, n_features=run.N_FEATURES, random_state=run.SEED)
    path = folder / "model.joblib"
    joblib.dump(LogisticRegression().fit(pd.DataFrame(x, columns=run.FEATURES), y), path)
    return path


def deployed_home(work: Path) -> tuple[Path, str]:
    """A champion home holding one online deployment of the small model; (home, deployment id)."""
    server = run.start_champion(fit_small_model(work), work)
    try:
        return work / "champion-home", server.deployment_id
    finally:
        run.stop(server)


class Clock:
    """CPU seconds of this thread per stage, for the flush under way."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = defaultdict(float)

    def timed(self, stage: str, function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.thread_time()
            try:
                return function(*args, **kwargs)
            finally:
                self.spent[stage] += time.thread_time() - started

        return wrapper


@contextlib.contextmanager
def stages_timed(clock: Clock, store: Any) -> Iterator[None]:
    """The writer's stages wrapped with the clock (module functions as the writer looks them up)."""
    from champion.monitoring import drift, files

    patched = [
        (files, "gather", "gather"),
        (files, "write", "write"),
        (store, "stage", "keep"),
        (store, "keep", "keep"),
        (drift, "observe", "drift"),
    ]
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in patched]
    for owner, name, stage in patched:
        setattr(owner, name, clock.timed(stage, getattr(owner, name)))
    try:
        yield
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100, help="rows per request (default 100)")
    parser.add_argument("--requests", type=int, default=250, help="requests per flush (default 250)")
    parser.add_argument("--flushes", type=int, default=20, help="flushes measured (default 20)")
    parser.add_argument("--warmup", type=int, default=3, help="flushes first, not counted (default 3)")
    parser.add_argument("--rate", type=float, default=140_000, help="captured rows a second (default 140,000)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    if not (1 <= args.rows <= 10_000 and 1 <= args.requests <= 10_000 and 1 <= args.flushes <= 500):
        parser.error("keep it bounded: --rows 1..10000, --requests 1..10000, --flushes 1..500")

    from sqlalchemy import select

    from champion.config import Settings
    from champion.context import open_context
    from champion.deployments.tables import Deployment
    from champion.models.tables import ModelVersion
    from champion.monitoring.capture import REQUEST_CELLS, ROW_CELLS, CaptureBuffer, CapturePolicy
    from champion.monitoring.writer import CaptureWriter
    from champion.runtimes import Prediction, Signature

    work = Path(tempfile.mkdtemp(prefix="champion-capture-flush-"))
    try:
        home, deployment_id = deployed_home(work)
        context = open_context(Settings(home=home))
        with context.sessions() as session:
            deployment = session.get(Deployment, deployment_id)
            assert deployment is not None
            version = session.scalar(select(ModelVersion).where(ModelVersion.id == deployment.version_id))
            assert version is not None
            version_id, signature = version.id, Signature.from_dict(version.signature)
        # Room for every request: a row takes its values, its probabilities, its time, label and id.
        cells = args.requests * (
            REQUEST_CELLS + args.rows * (len(signature.features) + len(signature.target.classes) + ROW_CELLS)
        )
        buffer = CaptureBuffer(capacity_cells=max(cells, 1_000))
        writer = CaptureWriter(context.sessions, context.store, buffer, interval=3600)
        classes = np.asarray(signature.target.classes)
        rng = np.random.default_rng(run.SEED)
        policy = CapturePolicy(sampling=1.0)
        clock = Clock()
        per_flush: list[dict[str, float]] = []
        offers: list[float] = []
        log(
            f"{args.warmup} + {args.flushes} flushes of {args.requests} requests x {args.rows} rows "
            f"x {len(signature.features)} features"
        )
        with stages_timed(clock, context.store):
            for flush in range(args.warmup + args.flushes):
                requests = []
                for _ in range(args.requests):
                    rows = np.round(rng.normal(size=(args.rows, len(signature.features))), 6)
                    probabilities = rng.dirichlet(np.ones(len(classes)), size=args.rows)
                    labels = classes[np.argmax(probabilities, axis=1)]
                    requests.append((rows, Prediction(labels=labels, probabilities=probabilities)))
                started = time.thread_time()
                for rows, prediction in requests:
                    buffer.offer(
                        policy,
                        deployment_id=deployment_id,
                        version_id=version_id,
                        signature=signature,
                        rows=rows,
                        prediction=prediction,
                        association_ids=None,
                        latency=0.001,
                    )
                offered = time.thread_time() - started
                clock.spent.clear()
                wall, started = time.perf_counter(), time.thread_time()
                (done,) = writer.flush_now()
                total = time.thread_time() - started
                wall = time.perf_counter() - wall
                assert done.rows == args.rows * args.requests
                if flush < args.warmup:
                    continue
                spent = dict(clock.spent)
                spent["database"] = total - sum(spent.values())
                per_flush.append(spent | {"total": total, "wall": wall})
                offers.append(offered)
        context.close()
    finally:
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    rows_per_flush = args.rows * args.requests
    print(  # noqa: T201
        f"One flush of {rows_per_flush:,} rows x {len(signature.features)} features ({args.requests} requests of "
        f"{args.rows} rows), median of {args.flushes} after {args.warmup} not counted; CPU of the flushing "
        "thread.\n\n| stage | ms per flush | µs per row | share of one core at "
        f"{args.rate:,.0f} rows/s |\n|---|---:|---:|---:|"
    )
    for stage in (*STAGES, "total"):
        ms = statistics.median(f[stage] for f in per_flush) * 1e3
        print(  # noqa: T201
            f"| {stage} | {ms:.1f} | {ms * 1e3 / rows_per_flush:.2f} | {ms / 1e3 / rows_per_flush * args.rate:.1%} |"
        )
    wall_ms = statistics.median(f["wall"] for f in per_flush) * 1e3
    offer_us = statistics.median(offers) * 1e6 / args.requests
    print(  # noqa: T201
        f"\nWall clock per flush: median {wall_ms:.1f} ms. Offering one request to the buffer: "
        f"{offer_us:.1f} µs ({offer_us / args.rows * args.rate / 1e6:.1%} of a core at that rate)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
