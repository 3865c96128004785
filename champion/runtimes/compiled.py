"""Compiled tree ensembles: a tree model served by ONNX Runtime, only once it answers as the original does.

scikit-learn's GradientBoosting, RandomForest, ExtraTrees and HistGradientBoosting estimators, and
XGBoost and LightGBM boosters, are converted to ONNX (skl2onnx, onnxmltools) when they are loaded.
For one row the compiled form answers in tens of microseconds where the framework's Python
`predict_proba` takes hundreds; for a hundred rows it is still several times cheaper.

The compiled form serves only after it matched the native model on the check rows: the warm-up
rows, rows built from the model's own split points (a value between each pair of neighbouring
thresholds, so many branches are taken; a missing value too when the model takes one), and the
caller's captured rows where there are any. Match means identical labels and probabilities within
`TOLERANCE` absolute (trees compare and sum in float32 in ONNX); a regressor's values within
`TOLERANCE` plus `TOLERANCE` relative. Any failure or difference serves the native model, and the
`ServingForm` says which form serves, its largest deviation and, when native, why.

Conversion is done once per model file and converter versions: the ONNX graph, its check rows and
the check's outcome are kept beside the file (`<file>.compiled/<key>.onnx`, `.rows.npy`, `.json`; the
key is the file's sha256 and the versions of skl2onnx, onnxmltools, onnx, onnxruntime and the
framework), so each server process, worker and restart loads the kept graph instead of converting
again. That matters more than the conversion (0.1 s for the bench's 100-tree model): importing
skl2onnx alone takes 1.5 s, and a kept graph needs only onnxruntime. A refusal is kept as well, so a
model whose compiled form differed is not converted again. A kept graph is checked again on the rows
at hand before it serves: the check costs milliseconds. Captured rows are where a serving process has
no database: a replacement's trial process, which replays them through the candidate, checks the
compiled form on them too (`replacement/trial.py`) and keeps the outcome for the servers.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import json
import logging
import os
import pickletools
import subprocess
import sys
import threading
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from champion.artifacts.store import sha256_of
from champion.runtimes.base import Framework, LoadedModel, Prediction, Signature, TargetType

logger = logging.getLogger(__name__)

TOLERANCE = 1e-5
"""Largest absolute difference in a probability (and, plus as much relative, in a regression value)."""

SPLIT_ROWS = 64
"""How many rows are built from the model's split points for the check."""

SKLEARN_ENSEMBLES = frozenset(
    {
        "GradientBoostingClassifier",
        "GradientBoostingRegressor",
        "RandomForestClassifier",
        "RandomForestRegressor",
        "ExtraTreesClassifier",
        "ExtraTreesRegressor",
        "HistGradientBoostingClassifier",
        "HistGradientBoostingRegressor",
    }
)

# The versions a conversion depends on: a new converter or runtime makes a new key, so a kept graph
# is never used by software that did not produce and check it.
CONVERTER_PACKAGES = ("skl2onnx", "onnxmltools", "onnx", "onnxruntime")
FRAMEWORK_PACKAGES = {Framework.SKLEARN: "scikit-learn", Framework.XGBOOST: "xgboost", Framework.LIGHTGBM: "lightgbm"}

ONNX_FORM = "onnxruntime"
NATIVE_FORM = "native"


@dataclass(frozen=True)
class ServingForm:
    """Which form of a model serves: `onnxruntime` (compiled) or `native`, and what the check found.

    `deviation` is the largest absolute probability (or value) difference seen on the `rows` compared;
    `reason` says why the native model serves (None when compiled).
    """

    form: str
    deviation: float | None = None
    rows: int = 0
    reason: str | None = None
    missing_values: str | None = None
    """Which form answers a batch holding a missing value (NaN), for a model that takes them: `native`
    when the compiled form treats missing values differently (scikit-learn's forests do)."""

    def to_dict(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value is not None}


TURNED_OFF = ServingForm(NATIVE_FORM, reason="compilation is turned off in the deployment's settings")


class CompiledModel:
    """A tree ensemble run by an ONNX Runtime session; it answers in the native model's signature and labels."""

    def __init__(
        self, session: Any, form: ServingForm, signature: Signature, framework: Framework, native: LoadedModel | None
    ) -> None:
        self.session = session
        self.native = native
        """The original when it was loaded (None when a kept form serves without it, see `kept`)."""
        self.framework = framework
        self.form = form
        self._signature = signature
        self._input = session.get_inputs()[0].name
        outputs = [o.name for o in session.get_outputs()]
        self._classifier = self._signature.target.type is not TargetType.REGRESSION
        # Classifiers: the probabilities output (the last one); regressors: the only one.
        self._output = outputs[-1]
        self._classes = np.asarray(self._signature.target.classes) if self._classifier else None
        self.missing_native = False
        """Batches with a missing value go to the native model (set when the check found them to differ;
        never on a form served without its native model)."""

    def signature(self) -> Signature:
        return self._signature

    def predict(self, rows: npt.NDArray[Any]) -> Prediction:
        if self.missing_native and self.native is not None and np.isnan(rows).any():
            return self.native.predict(rows)
        data = np.ascontiguousarray(rows, dtype=np.float32)
        output = np.asarray(self.session.run([self._output], {self._input: data})[0], dtype=np.float64)
        if self._classes is None:
            return Prediction(labels=output.reshape(-1), probabilities=None)
        # The most probable class, first on a tie, as every native adapter decides (a binary
        # booster's "strictly above one half" is the same rule on [1 - p, p]).
        return Prediction(labels=self._classes[np.argmax(output, axis=1)], probabilities=output)


class Mismatch(Exception):
    """The compiled form answered differently from the native model."""

    def __init__(self, message: str, deviation: float | None = None) -> None:
        super().__init__(message)
        self.deviation = deviation


class ConversionFailed(Exception):
    """The converter could not turn the model into an ONNX graph."""


def serving(
    native: LoadedModel,
    path: Path,
    *,
    sha256: str | None = None,
    enabled: bool = True,
    rows: npt.NDArray[Any] | None = None,
    here: bool = False,
) -> LoadedModel:
    """The model to serve for `native`, loaded from `path`: its compiled form when that matches, else `native`.

    `sha256` is the file's digest when the caller knows it (the artifact store's name for it), else it
    is computed. `rows` are extra rows to check on (captured rows). `here` converts in this process
    rather than in one of its own (the checking process, `check_apart`, is one already). Never raises
    for a conversion problem: the native model serves, and `recorded(sha256)` says which form serves
    and why. The outcome is kept beside the file, a model that is no tree ensemble included, so no
    process checks that file again.
    """
    if not enabled:
        return native
    digest = sha256 or sha256_of(path)
    reason = unsupported(native)
    if reason is not None:
        refused = ServingForm(NATIVE_FORM, reason=reason)
        _write(_record_path(path, native.framework, digest), json.dumps(refused.to_dict()).encode())
        _record(digest, refused)
        return native
    try:
        compiled = _compiled(native, path, digest, rows, here=here)
    except Exception as exc:  # a converter or runtime failure of any kind means "serve natively"
        logger.warning("serving %s natively: %s", path.name, first_line(exc))
        deviation = exc.deviation if isinstance(exc, Mismatch) else None
        _record(digest, ServingForm(NATIVE_FORM, deviation=deviation, reason=first_line(exc)))
        return native
    _record(digest, compiled.form)
    return compiled


def check_apart(path: Path, framework: Framework, *, sha256: str) -> bool:
    """Load, compile and check the model at `path` in a process of its own, keeping the outcome beside it.

    For a serving process's first load of a file that may be a tree ensemble: the native model, its
    framework (scikit-learn and pandas: about 150 MiB) and the converters are loaded by that process,
    which ends, so this one loads only what `kept` then serves. False, and nothing was done, when the
    outcome is kept already or the file holds no model that compiles (a scikit-learn pickle whose
    estimator is no ensemble is told from the pickle's first class name, without loading it); False too
    when the process failed (the caller loads natively and tries here, as before).
    """
    if _read_record(_record_path(path, framework, sha256)) is not None or not may_compile(path, framework):
        return False
    failed = _run_apart("--check", str(path), framework.value, sha256)
    if failed is not None:
        logger.warning("could not check the compiled form of %s: %s", path.name, failed)
        return False
    return True


def may_compile(path: Path, framework: Framework) -> bool:
    """Whether the file may hold a model `serving` compiles: a booster, or a scikit-learn pickle whose
    first class is one of `SKLEARN_ENSEMBLES` (or that cannot be told without loading it: compressed)."""
    if framework in (Framework.XGBOOST, Framework.LIGHTGBM):
        return True
    if framework is not Framework.SKLEARN:
        return False
    name = _first_class(path)
    return name is None or name in SKLEARN_ENSEMBLES


def _first_class(path: Path) -> str | None:
    """The name of the first class a pickle refers to (the object it holds, for an estimator), read from its
    opcodes without running any of them; None when that cannot be told from the first 64 KiB.

    pickletools only lists opcodes; nothing is unpickled. By hand because no library names a pickle's
    class without loading it.
    """
    try:
        with path.open("rb") as file:
            head = file.read(65536)
        strings: list[str] = []
        for opcode, argument, _ in pickletools.genops(io.BytesIO(head)):
            if opcode.name == "GLOBAL":  # protocols 0-3: "module name"
                return str(argument).rpartition(" ")[2]
            if opcode.name == "STACK_GLOBAL":  # protocol 4 and later: the two strings pushed before it
                return strings[-1] if strings else None
            if isinstance(argument, str):
                strings.append(argument)
    except Exception:  # compressed, truncated or not a pickle: cannot tell
        return None
    return None


def kept(path: Path, framework: Framework, *, sha256: str) -> CompiledModel | None:
    """The compiled form that matched the model file at `path` before, served without loading the native model.

    A restart then never imports the framework (scikit-learn alone takes over a second to import) nor
    unpickles the model. The match is the one `serving` made and kept for this very file (its sha256 is
    checked again here, so a damaged file is loaded, and refused, natively), these converter and
    framework versions (the key) and this graph (its digest is kept with the match); the signature
    is the native model's, kept with it. None, and the caller loads natively as before, when any of
    that is missing or differs, or when batches with a missing value need the native model.
    """
    folder = path.with_name(path.name + ".compiled")
    key = _key(framework, sha256)
    record = _read_record(_record_path(path, framework, sha256))
    if record is None or record.get("form") != ONNX_FORM or record.get("missing_values") == NATIVE_FORM:
        return None
    try:
        graph = (folder / f"{key}.onnx").read_bytes()
        if hashlib.sha256(graph).hexdigest() != record.get("graph_sha256") or sha256_of(path) != sha256:
            return None
        signature = Signature.from_dict(record["signature"])
        form = ServingForm(
            ONNX_FORM,
            deviation=record.get("deviation"),
            rows=int(record.get("rows", 0)),
            missing_values=record.get("missing_values"),
        )
        model = CompiledModel(_session(graph), form, signature, framework, None)
    except Exception as exc:  # a kept file of another shape, or a graph the runtime refuses: load natively
        logger.info("not serving the kept compiled form of %s: %s", path.name, first_line(exc))
        return None
    _record(sha256, form)
    logger.info("serving %s compiled (ONNX Runtime), as checked when kept", path.name)
    return model


def recorded(sha256: str) -> ServingForm | None:
    """The form the model file `sha256` last served in when this process loaded it (None: not loaded here).

    Kept in process memory, by file: every server process loads every served model with the same
    converters, so the process answering a deployment's details knows what its peers serve too; a
    deployment whose settings turn compilation off serves natively whatever this says.
    """
    with _FORMS_LOCK:
        return _FORMS.get(sha256)


def unsupported(native: LoadedModel) -> str | None:
    """Why `native` cannot be compiled, or None when it is a supported tree ensemble."""
    signature = native.signature()
    if not all(f.type.value in ("double", "integer", "boolean") for f in signature.features):
        return "only models whose features are all numeric are compiled"
    if native.framework is Framework.SKLEARN:
        estimator = getattr(native, "estimator", None)
        name = type(estimator).__name__
        if name not in SKLEARN_ENSEMBLES:
            return f"a {name} is not a tree ensemble champion compiles"
        return None
    if native.framework in (Framework.XGBOOST, Framework.LIGHTGBM):
        return None
    return f"{native.framework} models are not compiled"


# -- converting, keeping and checking -----------------------------------------------------------

_FORMS: dict[str, ServingForm] = {}
_FORMS_LOCK = threading.Lock()  # models load in executor threads


def _record(sha256: str, form: ServingForm) -> None:
    with _FORMS_LOCK:
        _FORMS[sha256] = form


def _record_path(path: Path, framework: Framework, sha256: str) -> Path:
    """Where the outcome of checking the compiled form of the file at `path` is kept."""
    return path.with_name(path.name + ".compiled") / f"{_key(framework, sha256)}.json"


def _compiled(
    native: LoadedModel, path: Path, sha256: str, rows: npt.NDArray[Any] | None, *, here: bool = False
) -> CompiledModel:
    folder = path.with_name(path.name + ".compiled")
    key = _key(native.framework, sha256)
    graph_path, record_path = folder / f"{key}.onnx", folder / f"{key}.json"
    record = _read_record(record_path)
    if record is not None and record.get("form") == NATIVE_FORM:
        # Converted and refused before, by these very versions: do not pay for it again.
        raise Mismatch(str(record.get("reason") or "the compiled form differed"), record.get("deviation"))
    graph = graph_path.read_bytes() if record is not None and graph_path.is_file() else None
    try:
        if graph is None:
            if here:
                graph = convert(native)
                keep_check_rows(native.signature(), graph, folder / f"{key}.rows.npy")
            else:
                graph = _convert_apart(path, native.framework, folder, rows=folder / f"{key}.rows.npy")
            _write(graph_path, graph)
        signature = native.signature()
        candidate = CompiledModel(_session(graph), ServingForm(ONNX_FORM), signature, native.framework, native)
        check = _check_rows(signature, graph, folder / f"{key}.rows.npy", rows)
        complete = ~np.isnan(check).any(axis=1)
        deviation = _compare(native, candidate, check[complete])
        missing = None
        if not complete.all():
            try:
                deviation = max(deviation, _compare(native, candidate, check[~complete]))
                missing = ONNX_FORM
            except Mismatch:
                candidate.missing_native, missing = True, NATIVE_FORM
    except Exception as exc:
        # A refusal is as lasting as a success for these versions: keep it, so no process tries again.
        found = exc.deviation if isinstance(exc, Mismatch) else None
        refused = ServingForm(NATIVE_FORM, found, reason=first_line(exc))
        _write(record_path, json.dumps(refused.to_dict()).encode())
        raise
    form = ServingForm(ONNX_FORM, deviation=deviation, rows=len(check), missing_values=missing)
    # What `kept` needs to serve this graph again without the native model: the graph's digest and the
    # signature the graph's answers were checked in.
    matched = {**form.to_dict(), "graph_sha256": hashlib.sha256(graph).hexdigest(), "signature": signature.to_dict()}
    _write(record_path, json.dumps(matched).encode())
    candidate.form = form
    logger.info("serving %s compiled (ONNX Runtime), deviation %.2g on %d rows", path.name, deviation, len(check))
    return candidate


CONVERT_TIMEOUT_SECONDS = 300


def _convert_apart(path: Path, framework: Framework, folder: Path, *, rows: Path) -> bytes:
    """The graph of the model at `path`, converted by `champion.runtimes.convert` in a process of its own,
    which also keeps the check rows built from it at `rows`, so this process never imports the converters
    nor onnx (see that module)."""
    folder.mkdir(exist_ok=True)
    out = folder / f".{uuid.uuid4().hex}.graph"
    try:
        failed = _run_apart(str(path), framework.value, str(out), str(rows))
        if failed is not None:
            raise ConversionFailed(f"the conversion to ONNX failed: {failed}")
        return out.read_bytes()
    finally:
        out.unlink(missing_ok=True)


def _run_apart(*arguments: str) -> str | None:
    """Run `python -m champion.runtimes.convert ARGUMENTS`; None when it succeeded, else why it did not."""
    command = [sys.executable, "-m", "champion.runtimes.convert", *arguments]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=CONVERT_TIMEOUT_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        return f"it took over {CONVERT_TIMEOUT_SECONDS} s"
    if done.returncode == 0:
        return None
    # The converters' own messages run to pages (every attribute of the node): the child sends the root cause.
    lines = done.stderr.strip().splitlines()
    return lines[-1] if lines else f"exit status {done.returncode}"


def convert(native: LoadedModel) -> bytes:
    """The ONNX graph of a supported tree ensemble, one float input `X` of the signature's width."""
    width = len(native.signature().features)
    if native.framework is Framework.SKLEARN:
        from skl2onnx import to_onnx
        from skl2onnx.common.data_types import FloatTensorType

        from champion.runtimes.sklearn import SklearnModel

        assert isinstance(native, SklearnModel)  # `unsupported` let only these through
        estimator = native.estimator
        options = {id(estimator): {"zipmap": False}} if hasattr(estimator, "classes_") else None
        model = to_onnx(
            estimator,
            initial_types=[("X", FloatTensorType([None, width]))],
            options=options,
            target_opset={"": 17, "ai.onnx.ml": 3},
        )
    elif native.framework is Framework.XGBOOST:
        from onnxmltools import convert_xgboost
        from onnxmltools.convert.common.data_types import FloatTensorType as XgbFloat

        from champion.runtimes.xgboost import XGBoostModel

        assert isinstance(native, XGBoostModel)
        model = convert_xgboost(native.booster, initial_types=[("X", XgbFloat([None, width]))])
    else:
        from onnxmltools import convert_lightgbm
        from onnxmltools.convert.common.data_types import FloatTensorType as LgbFloat

        from champion.runtimes.lightgbm import LightGBMModel

        assert isinstance(native, LightGBMModel)
        model = convert_lightgbm(native.booster, initial_types=[("X", LgbFloat([None, width]))], zipmap=False)
    data: bytes = model.SerializeToString()
    return data


def _session(graph: bytes) -> Any:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    # One thread per call: the engine already batches, calls run in several threads at once, and a
    # thread pool's wake-up costs more than a small batch's whole tree walk.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(graph, options, providers=["CPUExecutionProvider"])


def _compare(native: LoadedModel, compiled: CompiledModel, rows: npt.NDArray[Any]) -> float:
    """The largest deviation of `compiled` from `native` on `rows`; Mismatch when beyond tolerance."""
    expected, got = native.predict(rows), compiled.predict(rows)
    if expected.probabilities is not None:
        if got.probabilities is None or got.probabilities.shape != expected.probabilities.shape:
            raise Mismatch("the compiled form gives probabilities of another shape")
        deviation = float(np.max(np.abs(got.probabilities - expected.probabilities), initial=0.0))
        if deviation > TOLERANCE:
            raise Mismatch(f"the compiled form's probabilities differ by up to {deviation:.3g}", deviation)
        differing = int(np.sum(np.asarray(got.labels) != np.asarray(expected.labels)))
        if differing:
            raise Mismatch(f"the compiled form labels {differing} of {len(rows)} check rows differently", deviation)
        return deviation
    values, want = np.asarray(got.labels, dtype=np.float64), np.asarray(expected.labels, dtype=np.float64)
    if values.shape != want.shape:
        raise Mismatch("the compiled form gives values of another shape")
    difference = np.abs(values - want)
    deviation = float(np.max(difference, initial=0.0))
    if np.any(difference > TOLERANCE + TOLERANCE * np.abs(want)) or np.isnan(values).any() != np.isnan(want).any():
        raise Mismatch(f"the compiled form's values differ by up to {deviation:.3g}", deviation)
    return deviation


def _check_rows(
    signature: Signature, graph: bytes, kept: Path, extra: npt.NDArray[Any] | None
) -> npt.NDArray[np.float64]:
    """The rows built from the graph (kept beside it, so a later load need not import onnx to read the
    graph again), and `extra`."""
    width = len(signature.features)
    try:
        built: npt.NDArray[np.float64] = np.load(kept, allow_pickle=False)
    except (OSError, ValueError):
        built = keep_check_rows(signature, graph, kept)
    if extra is None or not len(extra):
        return built
    return np.vstack([built, np.asarray(extra, dtype=np.float64).reshape(-1, width)])


def keep_check_rows(signature: Signature, graph: bytes, kept: Path) -> npt.NDArray[np.float64]:
    """Build the check rows from the graph (which imports onnx) and keep them at `kept`."""
    built = _built_rows(signature, graph)
    buffer = io.BytesIO()
    np.save(buffer, built, allow_pickle=False)
    _write(kept, buffer.getvalue())
    return built


def _built_rows(signature: Signature, graph: bytes) -> npt.NDArray[np.float64]:
    """Zeros, rows between the model's split points, and some of those with missing values if it takes them."""
    width = len(signature.features)
    rng = np.random.default_rng(0)
    candidates = _split_midpoints(graph, width)
    built = np.zeros((SPLIT_ROWS, width))
    for column, values in enumerate(candidates):
        if len(values):
            built[:, column] = rng.choice(values, size=SPLIT_ROWS)
    parts = [np.zeros((1, width)), built]
    if signature.allows_missing:
        holes = built[: SPLIT_ROWS // 4].copy()
        holes[rng.random(holes.shape) < 0.3] = np.nan
        parts.append(holes)
    return np.vstack(parts)


def _split_midpoints(graph: bytes, width: int) -> list[npt.NDArray[np.float64]]:
    """Per feature, a value inside every interval its split thresholds make (and one past each end)."""
    import onnx
    from onnx import numpy_helper

    thresholds: list[set[float]] = [set() for _ in range(width)]
    for node in onnx.load_from_string(graph).graph.node:
        if node.domain != "ai.onnx.ml" or not node.op_type.startswith("TreeEnsemble"):
            continue
        attributes = {a.name: a for a in node.attribute}
        if "nodes_featureids" not in attributes:
            continue
        features = list(attributes["nodes_featureids"].ints)
        if "nodes_values" in attributes:
            values = list(attributes["nodes_values"].floats)
        elif "nodes_values_as_tensor" in attributes:
            values = numpy_helper.to_array(attributes["nodes_values_as_tensor"].t).tolist()
        else:
            continue
        modes = [m.decode() for m in attributes["nodes_modes"].strings] if "nodes_modes" in attributes else []
        for index, (feature, value) in enumerate(zip(features, values, strict=False)):
            if (not modes or modes[index] != "LEAF") and 0 <= feature < width and np.isfinite(value):
                thresholds[feature].add(float(value))
    found = []
    for splits in thresholds:
        ordered = np.array(sorted(splits))
        if not len(ordered):
            found.append(ordered)
            continue
        inner = (ordered[:-1] + ordered[1:]) / 2
        found.append(np.concatenate([[ordered[0] - 1.0], inner, [ordered[-1] + 1.0]]))
    return found


def _key(framework: Framework, sha256: str) -> str:
    packages = (*CONVERTER_PACKAGES, FRAMEWORK_PACKAGES.get(framework, ""))
    versions = ";".join(f"{name}={_version(name)}" for name in packages if name)
    return hashlib.sha256(f"{sha256}:{versions}:{TOLERANCE}:{SPLIT_ROWS}".encode()).hexdigest()[:32]


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def _read_record(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write(path: Path, data: bytes) -> None:
    """Write through a temporary name and rename, so a concurrent reader sees all of it or nothing.
    A folder we may not write to only costs the next load a conversion."""
    try:
        path.parent.mkdir(exist_ok=True)
        temporary = path.with_name(f".{uuid.uuid4().hex}.tmp")
        temporary.write_bytes(data)
        os.replace(temporary, path)
    except OSError as exc:
        logger.info("could not keep the compiled form at %s: %s", path, exc)


def first_line(exc: BaseException) -> str:
    """The root cause's first line: converters wrap short errors in messages of many pages."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."
