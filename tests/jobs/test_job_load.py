"""A batch job that starts before the follower loaded its deployment loads the champion itself, in the
form the deployment's settings allow (`compiled.enabled`), as the follower would."""

from __future__ import annotations

import asyncio
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.ensemble import GradientBoostingClassifier

from champion.artifacts.store import sha256_of
from champion.jobs.scoring_job import BatchJobHandler
from champion.runtimes import Framework, load
from champion.runtimes.compiled import CompiledModel
from champion.serving.engine import ServingEngine, VersionRef


class OneFileStore:
    """The one method of a store a job's own load uses: every blob is the one file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def open_path(self, sha256: str) -> Path:
        return self.path


@pytest.mark.parametrize("allowed", [True, False])
def test_a_job_loads_the_champion_in_the_form_the_settings_allow(tmp_path: Path, allowed: bool) -> None:
    x = np.random.default_rng(1).normal(size=(200, 3))
    path = tmp_path / "trees.joblib"
    joblib.dump(GradientBoostingClassifier(n_estimators=5, max_depth=2).fit(x, x[:, 0] > 0), path)
    ref = VersionRef("v", "m", 1, Framework.SKLEARN, sha256_of(path), load(path, Framework.SKLEARN).signature())

    async def scenario() -> bool:
        engine = ServingEngine()
        handler = BatchJobHandler(None, OneFileStore(path), engine)  # type: ignore[arg-type]
        await handler._ensure_loaded("d", ref, compiled=allowed)
        served = engine._loaded["d"].model
        await engine.close()
        return isinstance(served, CompiledModel)

    assert asyncio.run(scenario()) is allowed
