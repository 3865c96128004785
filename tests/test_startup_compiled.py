"""A restart serves the compiled form it kept without loading the native model, and only when it can trust it.

The first load of a tree ensemble converts it, checks the graph against the native model and keeps both
the graph and the match beside the file (`runtimes/compiled.py`). A later load (a restart, another
worker) serves that graph at once: no unpickling, no framework import. Anything that breaks the chain
from that match to the bytes now on disk (the model file, the graph, the versions, an older record)
sends the load back to the native model, as before.
"""

from __future__ import annotations

import json
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from champion.artifacts.store import sha256_of
from champion.runtimes import Framework, RuntimeLoadError, compiled, load
from champion.runtimes.compiled import ONNX_FORM, TOLERANCE, CompiledModel
from champion.serving.engine import VersionRef, _load_and_warm

WIDTH = 4


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small multiclass GradientBoosting model with string classes, converted and kept once."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=(300, WIDTH))
    labels = np.array(["low", "mid", "high"])[np.digitize(x[:, 0] + x[:, 1], [-0.5, 0.5])]
    path = tmp_path_factory.mktemp("kept") / "model.joblib"
    joblib.dump(GradientBoostingClassifier(n_estimators=8, max_depth=3, random_state=0).fit(x, labels), path)
    assert isinstance(compiled.serving(load(path, Framework.SKLEARN), path), CompiledModel)
    return path


@pytest.fixture
def model(original: Path, tmp_path: Path) -> Path:
    """A copy of the model and of what was kept beside it, for a test to damage."""
    path = tmp_path / original.name
    shutil.copy(original, path)
    shutil.copytree(original.with_name(original.name + ".compiled"), path.with_name(path.name + ".compiled"))
    return path


def _ref(path: Path) -> VersionRef:
    native = load(path, Framework.SKLEARN)
    return VersionRef("v", "m", 1, Framework.SKLEARN, sha256_of(path), native.signature())


def _record(path: Path) -> Path:
    (found,) = path.with_name(path.name + ".compiled").glob("*.json")
    return found


def test_a_restart_serves_the_kept_form_without_the_framework_and_answers_as_the_native_model(model: Path) -> None:
    rows = np.random.default_rng(9).normal(scale=1.5, size=(50, WIDTH))
    native = load(model, Framework.SKLEARN)
    want = native.predict(rows)
    # A fresh interpreter, as a restarted server is: this test process has scikit-learn imported already.
    script = f"""
import json, sys
import numpy as np
from pathlib import Path
from champion.runtimes.base import Framework, Signature
from champion.serving.engine import VersionRef, _load_and_warm
from champion.runtimes import compiled
path = Path({str(model)!r})
signature = Signature.from_dict(json.loads({json.dumps(native.signature().to_dict())!r}))
served = _load_and_warm(VersionRef("v", "m", 1, Framework.SKLEARN, {sha256_of(model)!r}, signature), path)
answer = served.predict(np.array({rows.tolist()!r}))
print(json.dumps({{
    "kind": type(served).__name__,
    "form": compiled.recorded({sha256_of(model)!r}).form,
    "labels": [str(label) for label in answer.labels],
    "probabilities": answer.probabilities.tolist(),
    "imported": sorted(m for m in ("sklearn", "scipy", "pandas", "joblib") if m in sys.modules),
}}))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert (got["kind"], got["form"], got["imported"]) == ("CompiledModel", ONNX_FORM, [])
    assert got["labels"] == [str(label) for label in want.labels]
    assert want.probabilities is not None
    assert np.abs(np.array(got["probabilities"]) - want.probabilities).max() <= TOLERANCE


def test_a_damaged_model_file_is_loaded_natively_and_refused(model: Path) -> None:
    ref = _ref(model)
    model.write_bytes(b"not a model any more")
    assert compiled.kept(model, Framework.SKLEARN, sha256=ref.sha256) is None
    with pytest.raises(RuntimeLoadError):
        _load_and_warm(ref, model)


def test_a_changed_graph_is_not_served_from_the_record(model: Path) -> None:
    ref = _ref(model)
    (graph,) = model.with_name(model.name + ".compiled").glob("*.onnx")
    graph.write_bytes(graph.read_bytes() + b"\x00")
    assert compiled.kept(model, Framework.SKLEARN, sha256=ref.sha256) is None
    # The load checks it against the native model, as on a first load: this graph no longer parses.
    assert not isinstance(_load_and_warm(ref, model), CompiledModel)


def test_a_record_kept_before_it_named_its_graph_is_checked_again_then_trusted(model: Path) -> None:
    ref = _ref(model)
    record = _record(model)
    older = {k: v for k, v in json.loads(record.read_text()).items() if k not in ("graph_sha256", "signature")}
    record.write_text(json.dumps(older))
    assert compiled.kept(model, Framework.SKLEARN, sha256=ref.sha256) is None
    assert isinstance(_load_and_warm(ref, model), CompiledModel)  # checked against the native model, kept again
    assert isinstance(compiled.kept(model, Framework.SKLEARN, sha256=ref.sha256), CompiledModel)


def test_a_refused_form_and_a_form_turned_off_load_the_native_model(model: Path) -> None:
    ref = _ref(model)
    assert not isinstance(_load_and_warm(ref, model, compiled=False), CompiledModel)
    record = _record(model)
    record.write_text(json.dumps({**json.loads(record.read_text()), "form": "native", "reason": "differed"}))
    assert compiled.kept(model, Framework.SKLEARN, sha256=ref.sha256) is None
    assert not isinstance(_load_and_warm(ref, model), CompiledModel)


def test_a_first_load_checks_the_compiled_form_apart_and_never_loads_the_native_model(
    original: Path, tmp_path: Path
) -> None:
    """Nothing kept yet: a process of its own loads the native model, converts and checks it, and keeps the
    outcome; the serving process then serves the kept form without ever importing scikit-learn."""
    path = tmp_path / original.name
    shutil.copy(original, path)  # the file alone: nothing kept beside it
    native = load(path, Framework.SKLEARN)
    rows = np.random.default_rng(3).normal(size=(20, WIDTH))
    want = native.predict(rows)
    script = f"""
import json, sys
import numpy as np
from pathlib import Path
from champion.runtimes.base import Framework, Signature
from champion.serving.engine import VersionRef, _load_and_warm
path = Path({str(path)!r})
signature = Signature.from_dict(json.loads({json.dumps(native.signature().to_dict())!r}))
served = _load_and_warm(VersionRef("v", "m", 1, Framework.SKLEARN, {sha256_of(path)!r}, signature), path)
answer = served.predict(np.array({rows.tolist()!r}))
print(json.dumps({{
    "kind": type(served).__name__,
    "labels": [str(label) for label in answer.labels],
    "imported": sorted(m for m in ("sklearn", "scipy", "pandas", "joblib") if m in sys.modules),
}}))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180, check=True)
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert (got["kind"], got["imported"]) == ("CompiledModel", [])
    assert got["labels"] == [str(label) for label in want.labels]
    assert json.loads(_record(path).read_text())["form"] == ONNX_FORM


def test_a_model_that_is_no_ensemble_is_loaded_natively_at_once_and_its_refusal_kept(tmp_path: Path) -> None:
    """A scikit-learn pickle whose estimator is not a tree ensemble is told from its first class name: no
    checking process, and after the native load the refusal is kept, so no later load checks it either."""
    x = np.random.default_rng(2).normal(size=(60, WIDTH))
    path = tmp_path / "linear.joblib"
    joblib.dump(LogisticRegression().fit(x, x[:, 0] > 0), path)
    assert compiled.may_compile(path, Framework.SKLEARN) is False
    ref = _ref(path)
    assert compiled.check_apart(path, Framework.SKLEARN, sha256=ref.sha256) is False
    served = _load_and_warm(ref, path)
    assert not isinstance(served, CompiledModel)
    assert json.loads(_record(path).read_text())["form"] == "native"
    form = compiled.recorded(ref.sha256)
    assert form is not None and form.reason == "a LogisticRegression is not a tree ensemble champion compiles"


@pytest.mark.parametrize("compress", [0, 3])
def test_the_first_class_of_a_pickle_is_read_without_unpickling_it(
    original: Path, tmp_path: Path, compress: int
) -> None:
    path = tmp_path / "model.joblib"
    joblib.dump(joblib.load(original), path, compress=compress)
    # Compressed, the class cannot be told without inflating the file: the checking process decides.
    assert compiled._first_class(path) == ("GradientBoostingClassifier" if not compress else None)
    assert compiled.may_compile(path, Framework.SKLEARN) is True
    with (tmp_path / "plain.pkl").open("wb") as file:
        pickle.dump(LogisticRegression(), file, protocol=2)  # GLOBAL "module name" rather than STACK_GLOBAL
    assert compiled._first_class(tmp_path / "plain.pkl") == "LogisticRegression"
    (tmp_path / "noise.pkl").write_bytes(b"\x80\x05" + bytes(range(256)))
    assert compiled._first_class(tmp_path / "noise.pkl") is None
