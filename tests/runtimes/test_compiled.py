"""Compiled tree ensembles (`runtimes/compiled.py`): they answer as the native model does, or the native model serves.

Every supported framework's tree ensembles are trained here (tiny: a handful of trees), loaded with
their runtime, passed through `compiled.serving`, and compared with the native model on rows the
check never saw (another seed, missing values included where the model takes them).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import joblib
import lightgbm
import numpy as np
import numpy.typing as npt
import pytest
import xgboost
from sklearn import ensemble
from sklearn.linear_model import LogisticRegression

from champion.artifacts.store import sha256_of
from champion.replacement import trial
from champion.runtimes import Framework, LoadedModel, compiled, load
from champion.runtimes.compiled import NATIVE_FORM, ONNX_FORM, TOLERANCE, CompiledModel

WIDTH = 4


@dataclass(frozen=True)
class Tree:
    path: Path
    framework: Framework


def _data() -> tuple[npt.NDArray[np.float64], dict[str, npt.NDArray[np.float64]]]:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(300, WIDTH))
    return x, {
        "binary": (x[:, 0] + x[:, 1] > 0).astype(np.float64),
        "multiclass": np.digitize(x[:, 0], [-0.5, 0.5]).astype(np.float64),
        "regression": 3 * x[:, 0] + x[:, 2] + rng.normal(scale=0.1, size=300),
    }


SKLEARN = {
    "gradient_boosting": (ensemble.GradientBoostingClassifier, ensemble.GradientBoostingRegressor),
    "random_forest": (ensemble.RandomForestClassifier, ensemble.RandomForestRegressor),
    "extra_trees": (ensemble.ExtraTreesClassifier, ensemble.ExtraTreesRegressor),
    "hist_gradient_boosting": (ensemble.HistGradientBoostingClassifier, ensemble.HistGradientBoostingRegressor),
}


@pytest.fixture(scope="module")
def trees(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Tree]:
    folder = tmp_path_factory.mktemp("trees")
    x, targets = _data()
    found: dict[str, Tree] = {}
    for name, (classifier, regressor) in SKLEARN.items():
        for task in ("binary", "multiclass", "regression"):
            size = {"max_iter": 8} if name == "hist_gradient_boosting" else {"n_estimators": 8}
            model = (regressor if task == "regression" else classifier)(max_depth=3, random_state=0, **size)
            path = folder / f"{name}-{task}.joblib"
            joblib.dump(model.fit(x, targets[task]), path)
            found[f"{name}-{task}"] = Tree(path, Framework.SKLEARN)
    objectives = {"binary": "binary:logistic", "multiclass": "multi:softprob", "regression": "reg:squarederror"}
    for task, objective in objectives.items():
        params = {"objective": objective, "max_depth": 3, **({"num_class": 3} if task == "multiclass" else {})}
        booster = xgboost.train(params, xgboost.DMatrix(x, label=targets[task]), num_boost_round=8)
        path = folder / f"xgboost-{task}.json"
        booster.save_model(path)
        found[f"xgboost-{task}"] = Tree(path, Framework.XGBOOST)
    lgb_objectives = {"binary": "binary", "multiclass": "multiclass", "regression": "regression"}
    for task, objective in lgb_objectives.items():
        params = {
            "objective": objective,
            "num_leaves": 7,
            "verbose": -1,
            **({"num_class": 3} if task == "multiclass" else {}),
        }
        lgb = lightgbm.train(params, lightgbm.Dataset(x, targets[task]), num_boost_round=8)
        path = folder / f"lightgbm-{task}.txt"
        lgb.save_model(str(path))
        found[f"lightgbm-{task}"] = Tree(path, Framework.LIGHTGBM)
    return found


def _fresh_rows(model: LoadedModel) -> npt.NDArray[np.float64]:
    """Rows the check never saw; a third of them with a missing value when the model takes them."""
    rows = np.random.default_rng(11).normal(scale=1.5, size=(200, WIDTH))
    if model.signature().allows_missing:
        rows[::3, 1] = np.nan
    return rows


def _sha(path: Path) -> str:
    return sha256_of(path)


def _assert_same_answers(native: LoadedModel, served: LoadedModel, rows: npt.NDArray[np.float64]) -> None:
    want, got = native.predict(rows), served.predict(rows)
    if want.probabilities is None:
        assert got.probabilities is None
        assert np.allclose(got.labels, want.labels, rtol=TOLERANCE, atol=TOLERANCE)
    else:
        assert got.probabilities is not None
        assert np.abs(got.probabilities - want.probabilities).max() <= TOLERANCE
        assert np.array_equal(got.labels, want.labels)


@pytest.mark.parametrize(
    "name",
    [
        f"{family}-{task}"
        for family in [*SKLEARN, "xgboost", "lightgbm"]
        for task in ("binary", "multiclass", "regression")
    ],
)
def test_every_supported_ensemble_serves_compiled_with_the_native_answers(trees: dict[str, Tree], name: str) -> None:
    tree = trees[name]
    native = load(tree.path, tree.framework)
    served = compiled.serving(native, tree.path)
    form = compiled.recorded(_sha(tree.path))
    assert form is not None
    if name.startswith("hist_gradient_boosting") and form.form == NATIVE_FORM:
        # skl2onnx 1.20 writes boolean attributes protobuf 7 refuses: it must say so and serve natively.
        assert served is native and (form.reason or "").startswith("the conversion to ONNX failed: ")
        return
    assert isinstance(served, CompiledModel), form
    assert form.form == ONNX_FORM and form.deviation is not None and form.deviation <= TOLERANCE and form.rows > 64
    _assert_same_answers(native, served, _fresh_rows(native))
    # One row, as the hot path sends it, answers the same as well.
    _assert_same_answers(native, served, _fresh_rows(native)[:1])


def test_a_forest_sends_rows_with_missing_values_to_the_native_model(trees: dict[str, Tree]) -> None:
    """scikit-learn's forests learn where a missing value goes; the ONNX graph does not know it."""
    tree = trees["random_forest-binary"]
    native = load(tree.path, tree.framework)
    served = compiled.serving(native, tree.path)
    form = compiled.recorded(_sha(tree.path))
    assert isinstance(served, CompiledModel) and form is not None and form.missing_values == NATIVE_FORM
    rows = _fresh_rows(native)
    assert np.isnan(rows).any()
    prediction = served.predict(rows)
    assert prediction.probabilities is not None
    assert np.array_equal(prediction.probabilities, native.predict(rows).probabilities)  # native: exactly


def _between_float32_and_float64(path: Path) -> npt.NDArray[np.float64]:
    """Rows just past a LightGBM split threshold: LightGBM compares in float64 and goes right, the
    compiled graph sees the float32 of the value, equal to the threshold, and goes left."""
    root = lightgbm.Booster(model_file=str(path)).dump_model()["tree_info"][0]["tree_structure"]
    rows = np.zeros((4, WIDTH))
    rows[:, root["split_feature"]] = np.nextafter(root["threshold"], np.inf)
    return rows


def test_a_model_answering_differently_on_captured_rows_serves_natively_with_the_reason(
    trees: dict[str, Tree], tmp_path: Path
) -> None:
    path = tmp_path / "lightgbm.txt"
    shutil.copyfile(trees["lightgbm-binary"].path, path)
    native = load(path, Framework.LIGHTGBM)
    captured = _between_float32_and_float64(path)
    served = compiled.serving(native, path, rows=captured)
    assert served is native
    form = compiled.recorded(_sha(path))
    assert form is not None and form.form == NATIVE_FORM
    assert form.reason is not None and "differ" in form.reason
    assert form.deviation is not None and form.deviation > TOLERANCE
    # The refusal is kept beside the file: another process (or a restart) does not convert again,
    # even when it has no captured rows to find the difference with.
    again = compiled.serving(load(path, Framework.LIGHTGBM), path)
    assert not isinstance(again, CompiledModel)
    assert compiled.recorded(_sha(path)) == form


def test_a_kept_graph_is_used_by_the_next_load(trees: dict[str, Tree], tmp_path: Path) -> None:
    path = tmp_path / "model.joblib"
    shutil.copyfile(trees["gradient_boosting-binary"].path, path)
    first = compiled.serving(load(path, Framework.SKLEARN), path)
    kept = list((tmp_path / "model.joblib.compiled").glob("*.onnx"))
    assert isinstance(first, CompiledModel) and len(kept) == 1
    written = kept[0].stat().st_mtime_ns
    second = compiled.serving(load(path, Framework.SKLEARN), path)
    assert isinstance(second, CompiledModel)
    assert kept[0].stat().st_mtime_ns == written  # read, not converted and written again


def test_a_model_that_is_no_tree_ensemble_serves_natively_with_the_reason(tmp_path: Path) -> None:
    x, targets = _data()
    path = tmp_path / "logistic.joblib"
    joblib.dump(LogisticRegression().fit(x, targets["binary"]), path)
    native = load(path, Framework.SKLEARN)
    assert compiled.serving(native, path) is native
    form = compiled.recorded(_sha(path))
    assert form is not None and form.form == NATIVE_FORM and "not a tree ensemble" in (form.reason or "")


def test_turned_off_serves_the_native_model(trees: dict[str, Tree]) -> None:
    tree = trees["xgboost-binary"]
    native = load(tree.path, tree.framework)
    assert compiled.serving(native, tree.path, enabled=False) is native


def test_a_replacement_trial_checks_the_compiled_form_on_captured_rows(trees: dict[str, Tree], tmp_path: Path) -> None:
    """The trial process has the captured rows; the servers that load the candidate next read its check."""
    path = tmp_path / "candidate.txt"
    shutil.copyfile(trees["lightgbm-binary"].path, path)
    native = load(path, Framework.LIGHTGBM)
    signature = native.signature()
    captured = _between_float32_and_float64(path)
    replay = trial.ReplayInput(
        features={f.name: captured[:, i] for i, f in enumerate(signature.features)},
        labels=native.predict(captured).labels,
        probabilities=None,
        classes=(),
    )
    assert trial.run(path, Framework.LIGHTGBM, signature, replay).loads
    served = compiled.serving(load(path, Framework.LIGHTGBM), path)  # a server's load: no captured rows
    assert not isinstance(served, CompiledModel)
    form = compiled.recorded(_sha(path))
    assert form is not None and form.form == NATIVE_FORM and "differ" in (form.reason or "")


def test_a_model_the_converter_cannot_convert_serves_natively_with_the_reason(tmp_path: Path) -> None:
    """skl2onnx refuses a GradientBoosting model whose initial estimator is another model."""
    x, targets = _data()
    model = ensemble.GradientBoostingClassifier(n_estimators=5, init=LogisticRegression()).fit(x, targets["binary"])
    path = tmp_path / "boosted-logistic.joblib"
    joblib.dump(model, path)
    native = load(path, Framework.SKLEARN)
    assert compiled.serving(native, path) is native
    form = compiled.recorded(_sha(path))
    assert form is not None and form.form == NATIVE_FORM
    assert (form.reason or "").startswith("the conversion to ONNX failed: ") and "init" in (form.reason or "")


@pytest.mark.parametrize("name", ["gradient_boosting-binary", "xgboost-binary"])
def test_the_serving_process_converts_apart_and_never_imports_the_converters(
    trees: dict[str, Tree], tmp_path: Path, name: str
) -> None:
    # A fresh interpreter, as a server process is: this test process has imported everything already.
    tree = trees[name]
    path = tmp_path / tree.path.name
    shutil.copy(tree.path, path)
    script = (
        "import sys; from pathlib import Path; from champion.runtimes import Framework, compiled, load; "
        f"path = Path({str(path)!r}); "
        f"served = compiled.serving(load(path, Framework({tree.framework.value!r})), path); "
        "print(served.form.form if isinstance(served, compiled.CompiledModel) else 'native'); "
        "print(sorted(m for m in ('skl2onnx', 'onnxmltools', 'onnx') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    form, imported = done.stdout.strip().splitlines()[-2:]
    assert (form, imported) == (ONNX_FORM, "[]")
    assert list((tmp_path / f"{path.name}.compiled").glob("*.onnx")), "the graph is kept beside the file"
