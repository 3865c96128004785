"""The trial process: uploads are loaded there, never in a serving process, and it ends when idle.

An upload's file is unpickled in the trial process (bounded in time and memory) to read its signature,
so a serving process never runs an uploaded pickle nor keeps scikit-learn imported for it. The trial
process ends after `IDLE_SECONDS` without work, handing back the memory of what it loaded; the next
call starts a new one, even when the old one ended just as the call was sent.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from champion.models.types import parse_model_type
from champion.replacement import trial
from champion.runtimes import Framework, RuntimeLoadError, load
from tests.model_files import ModelFiles
from tests.replacement.test_trial_reap import forgotten


def test_an_upload_is_inspected_in_the_trial_process_and_never_unpickled_here(model_files: ModelFiles) -> None:
    # A fresh interpreter, as a server is: this test process has imported scikit-learn already.
    script = f"""
import json, sys
from pathlib import Path
from champion.models.service import _inspect
from champion.models.types import parse_model_type
framework, signature = _inspect(Path({str(model_files.classifier_named)!r}), parse_model_type("scikit-learn_1.3"))
print(json.dumps({{
    "framework": framework.value,
    "signature": signature.to_dict(),
    "imported": sorted(m for m in ("sklearn", "scipy", "pandas", "joblib") if m in sys.modules),
}}))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180, check=True)
    got = json.loads(done.stdout.strip().splitlines()[-1])
    want = load(model_files.classifier_named, Framework.SKLEARN).signature()
    assert (got["framework"], got["imported"]) == ("scikit-learn", [])
    assert got["signature"] == want.to_dict()


def test_a_file_that_is_no_model_is_refused_with_the_loaders_reason(tmp_path: Path) -> None:
    path = tmp_path / "broken.pkl"
    path.write_bytes(b"\x80\x04\x95garbage")
    with pytest.raises(RuntimeLoadError) as refused:
        trial.inspect(path, Framework.SKLEARN)
    with pytest.raises(RuntimeLoadError) as here:
        load(path, Framework.SKLEARN)
    assert str(refused.value) == str(here.value)


def test_a_scikit_learn_pickle_declared_as_lightgbm_is_refused_by_the_library_the_trial_process_read(
    model_files: ModelFiles,
) -> None:
    from champion.models.errors import NotAModel
    from champion.models.service import _inspect

    with pytest.raises(NotAModel, match="the model type is lightgbm_4 but the pickle holds a sklearn model"):
        _inspect(model_files.classifier_named, parse_model_type("lightgbm_4"))


def test_an_idle_trial_process_ends_and_the_next_call_starts_another(
    model_files: ModelFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(trial, "IDLE_SECONDS", 0.5)
    runner = trial._Runner(3 * 1024**3)  # its own, so other tests' trial process is left alone
    try:
        signature = load(model_files.classifier_named, Framework.SKLEARN).signature().to_dict()
        assert (
            runner.run(trial._inspect, (str(model_files.classifier_named), "scikit-learn"), timeout=60)[0] == signature
        )
        child = runner._child
        assert child is not None
        assert forgotten(runner)  # ended idle, and reaped by the runner's own thread
        assert child.exitcode == trial.IDLE_EXIT
        # Ended idle just as a call was sent (the runner has not noticed it yet): the call runs in a new one.
        monkeypatch.setattr(runner, "_reap", lambda child: None)  # the next child's reaper has not run yet
        assert (
            runner.run(trial._inspect, (str(model_files.classifier_named), "scikit-learn"), timeout=60)[0] == signature
        )
        assert runner._child is not child
        ended = runner._child
        assert ended is not None
        ended.join(timeout=30)
        monkeypatch.setattr(runner, "_alive", lambda: True)
        started = time.monotonic()
        assert (
            runner.run(trial._inspect, (str(model_files.classifier_named), "scikit-learn"), timeout=60)[0] == signature
        )
        assert runner._child is not ended and time.monotonic() - started < 60
    finally:
        runner.close()
