"""Reading an MLflow model folder: the flavor champion serves, its model file, and the signature it was logged with.

champion never imports mlflow: it reads `MLmodel` itself and hands the flavor's own file to the
runtime that already loads that format. Custom `python_function` code is not run.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import yaml

from champion.models.errors import NotAModel
from champion.runtimes import Feature, FeatureType, Framework, Signature

# The flavors champion serves natively, in the order one is chosen when a folder has several;
# each with the MLmodel key naming its file and the runtimes that file may load with.
FLAVORS: dict[str, tuple[str, frozenset[Framework]]] = {
    "onnx": ("data", frozenset({Framework.ONNX})),
    "xgboost": ("data", frozenset({Framework.XGBOOST})),
    # A Booster is saved as LightGBM's text model; an LGBMClassifier/Regressor is pickled.
    "lightgbm": ("data", frozenset({Framework.LIGHTGBM, Framework.SKLEARN})),
    "sklearn": ("pickled_model", frozenset({Framework.SKLEARN})),
}

# serialization_format values the scikit-learn runtime reads (joblib unpickles both); MLflow 3's
# default, skops, is another format altogether.
PICKLE_FORMATS = ("pickle", "cloudpickle")

COLUMN_TYPES: dict[str, FeatureType] = {
    "double": FeatureType.DOUBLE,
    "float": FeatureType.DOUBLE,
    "long": FeatureType.INTEGER,
    "integer": FeatureType.INTEGER,
    "boolean": FeatureType.BOOLEAN,
    "string": FeatureType.STRING,
}

# numpy dtype kinds of a tensor spec: float, signed and unsigned integer, bool, text and object.
TENSOR_KINDS: dict[str, FeatureType] = {
    "f": FeatureType.DOUBLE,
    "i": FeatureType.INTEGER,
    "u": FeatureType.INTEGER,
    "b": FeatureType.BOOLEAN,
    "U": FeatureType.STRING,
    "S": FeatureType.STRING,
    "O": FeatureType.STRING,
}


@dataclass(frozen=True)
class Column:
    """One input column as the MLmodel signature declares it; `name` is None for a bare tensor's columns."""

    name: str | None
    type: FeatureType


@dataclass(frozen=True)
class LoggedModel:
    """An MLflow model folder, read: the flavor served, its model file, and its logged signature (None if absent)."""

    flavor: str
    path: Path
    inputs: tuple[Column, ...] | None
    output_name: str | None

    def admit(self, framework: Framework) -> None:
        """Refuse a flavor file whose content is not that flavor's format (an `xgboost` flavor holding a pickle)."""
        if framework not in FLAVORS[self.flavor][1]:
            raise _refused(f"the MLmodel's {self.flavor} flavor points at {self.path.name}, a {framework.value} model")

    def signature(self, own: Signature, framework: Framework) -> Signature:
        """The model's own signature with the MLmodel's inputs applied: logged names and types win (see `merge`)."""
        return merge(own, self.inputs, framework, output_name=self.output_name)


def merge(
    own: Signature,
    inputs: tuple[Column, ...] | None,
    framework: Framework,
    *,
    output_name: str | None = None,
    source: str = "the MLmodel signature",
) -> Signature:
    """The model's own signature with logged `inputs` applied: logged names and types win.

    The MLmodel signature is what the model was logged with and what MLflow's clients send, so its
    names replace the model's (placeholders for a model fitted on a bare array, or names a library
    rewrote, as LightGBM does with spaces); every runtime feeds columns by position, in the logged
    order. Only when the model names the same columns in another order does the model's order stay,
    since its columns are fed in that order. A type the model's file pins (anything but the
    runtimes' default, double) stays the model's; a string column for a runtime that reads only
    numbers is refused. Target type and classes are always the model's own; `output_name` names the
    target when the model does not. `source` names the signature in refusals (a space archive
    carries one too).
    """
    target = own.target
    if target.name is None and output_name is not None:
        target = dataclasses.replace(target, name=output_name)
    if inputs is None:
        return dataclasses.replace(own, target=target)
    if len(inputs) != len(own.features):
        raise _refused(f"{source} has {len(inputs)} inputs but the model takes {len(own.features)}")
    names = [c.name for c in inputs]
    if any(name is None for name in names):
        pairs = list(zip(own.features, inputs, strict=True))
        features = tuple(Feature(f.name, _type(f, c, framework, source)) for f, c in pairs)
        return dataclasses.replace(own, features=features, target=target)
    if own.named and set(names) == {f.name for f in own.features}:
        by_name = {c.name: c for c in inputs}
        features = tuple(Feature(f.name, _type(f, by_name[f.name], framework, source)) for f in own.features)
    else:
        pairs = list(zip(own.features, inputs, strict=True))
        features = tuple(Feature(str(c.name), _type(f, c, framework, source)) for f, c in pairs)
    return dataclasses.replace(own, features=features, target=target, named=True)


def read(folder: Path) -> LoggedModel:
    """Read `folder/MLmodel` and choose the flavor to serve; every problem is a NotAModel naming it."""
    document = _load_yaml(folder / "MLmodel")
    flavors = document.get("flavors")
    if not isinstance(flavors, dict) or not flavors:
        raise _refused("the MLmodel file lists no flavors")
    flavor = next((name for name in FLAVORS if name in flavors), None)
    if flavor is None:
        found = ", ".join(sorted(str(name) for name in flavors))
        raise _refused(
            f"the MLflow model has the flavors {found}; champion serves the {', '.join(FLAVORS)} flavors "
            "(it does not run custom python_function code)"
        )
    config = flavors[flavor]
    if not isinstance(config, dict):
        raise _refused(f"the MLmodel's {flavor} flavor is not a mapping")
    _check_serialization(flavor, config)
    key = FLAVORS[flavor][0]
    path = _inside(folder, config.get(key), what=f"the MLmodel's {flavor} flavor ({key})")
    if flavor == "onnx":
        path = _self_contained_onnx(path, folder)
    signature = document.get("signature")
    signature = signature if isinstance(signature, dict) else {}
    return LoggedModel(
        flavor=flavor,
        path=path,
        inputs=_inputs(signature.get("inputs")),
        output_name=_output_name(signature.get("outputs")),
    )


def _load_yaml(path: Path) -> dict[str, Any]:
    try:
        # safe_load builds only plain values: an MLmodel cannot make YAML construct objects.
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise _refused(f"the MLmodel file is not valid YAML: {_one_line(exc)}") from None
    except OSError:
        raise _refused("the MLflow model folder has no MLmodel file") from None
    if not isinstance(document, dict):
        raise _refused("the MLmodel file is not a YAML mapping")
    return document


def _check_serialization(flavor: str, config: dict[str, Any]) -> None:
    if flavor == "lightgbm" and str(config.get("model_class", "lightgbm.basic.Booster")).endswith(".Booster"):
        return  # a Booster is written in LightGBM's own text format whatever serialization_format says
    if flavor not in ("sklearn", "lightgbm"):
        return
    # Folders from MLflow before serialization_format existed hold cloudpickle output.
    form = config.get("serialization_format", "cloudpickle")
    if form not in PICKLE_FORMATS:
        raise _refused(
            f"the MLmodel's {flavor} flavor is saved as {form}; champion loads {' and '.join(PICKLE_FORMATS)} "
            "(save_model(..., serialization_format='cloudpickle'))"
        )


def _inside(folder: Path, name: Any, *, what: str) -> Path:
    """The file `name` inside `folder`, refusing paths that leave it (absolute, `..`, links)."""
    if not isinstance(name, str) or not name:
        raise _refused(f"{what} names no model file")
    relative = PurePosixPath(name)
    root = folder.resolve()
    path = (root / relative).resolve()
    if relative.is_absolute() or ".." in relative.parts or not path.is_relative_to(root):
        raise _refused(f"{what} points outside the model folder: {name}")
    if not path.is_file():
        raise _refused(f"{what} points at {name}, which is not a file in the model folder")
    return path


def _self_contained_onnx(path: Path, folder: Path) -> Path:
    """The ONNX model as one file: MLflow saves large weights beside it, and the version keeps one file.

    A model without external data is returned as it is; otherwise the weights are read in (onnx refuses
    locations outside `folder`) and written into a single file of the same name.
    """
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception:
        return path  # not ONNX: the runtime's detection says so with its own message
    external = [t for t in model.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    if not external:
        return path
    for tensor in external:
        location = next((entry.value for entry in tensor.external_data if entry.key == "location"), "")
        _inside(path.parent, location, what=f"the ONNX weight {tensor.name}")
    try:
        onnx.load_external_data_for_model(model, str(path.parent))
        inlined = Path(tempfile.mkdtemp(dir=folder)) / path.name
        onnx.save_model(model, str(inlined))
    except Exception as exc:
        raise _refused(f"the ONNX model's external weights cannot be read: {_first_line(exc)}") from None
    return inlined


def _inputs(raw: Any) -> tuple[Column, ...] | None:
    specs = _specs(raw, what="inputs")
    if specs is None:
        return None
    if all(spec.get("type") == "tensor" for spec in specs):
        return _tensor_columns(specs)
    columns = []
    for i, spec in enumerate(specs):
        name = spec.get("name")
        kind = COLUMN_TYPES.get(str(spec.get("type")))
        if kind is None:
            raise _refused(
                f"the MLmodel signature's input {name or i} has the type {spec.get('type')!r}; "
                f"champion serves columns of {', '.join(COLUMN_TYPES)}"
            )
        columns.append(Column(str(name) if name is not None else None, kind))
    named = [c.name for c in columns if c.name is not None]
    if len(set(named)) != len(named):
        raise _refused("the MLmodel signature names an input column twice")
    return tuple(columns)


def _tensor_columns(specs: list[dict[str, Any]]) -> tuple[Column, ...]:
    """One (n, k) tensor is k unnamed columns; several (n,) or (n, 1) tensors are one named column each."""
    shapes = [_tensor(spec) for spec in specs]
    if len(specs) == 1 and len(shapes[0][1]) == 2 and isinstance(shapes[0][1][1], int) and shapes[0][1][1] > 0:
        kind, shape = shapes[0]
        return tuple(Column(None, kind) for _ in range(shape[1]))
    columns = []
    for spec, (kind, shape) in zip(specs, shapes, strict=True):
        if len(shape) not in (1, 2) or (len(shape) == 2 and shape[1] != 1):
            raise _refused(
                f"the MLmodel signature's input tensor has the shape {shape}; champion serves rows of columns"
            )
        name = spec.get("name")
        columns.append(Column(str(name) if name is not None else None, kind))
    return tuple(columns)


def _tensor(spec: dict[str, Any]) -> tuple[FeatureType, list[Any]]:
    tensor = spec.get("tensor-spec")
    if not isinstance(tensor, dict) or not isinstance(tensor.get("shape"), list):
        raise _refused("the MLmodel signature has a tensor input without its tensor-spec")
    try:
        kind = TENSOR_KINDS.get(np.dtype(str(tensor.get("dtype"))).kind)
    except TypeError:
        kind = None
    if kind is None:
        raise _refused(f"the MLmodel signature has a tensor input of the unsupported dtype {tensor.get('dtype')!r}")
    return kind, list(tensor["shape"])


def _output_name(raw: Any) -> str | None:
    """The target's name, when the outputs are one named column; outputs only name things, so any doubt is None."""
    try:
        specs = _specs(raw, what="outputs")
    except NotAModel:
        return None
    if specs is None or len(specs) != 1 or specs[0].get("type") == "tensor":
        return None
    name = specs[0].get("name")
    return str(name) if name is not None else None


def _specs(raw: Any, *, what: str) -> list[dict[str, Any]] | None:
    """A signature part: MLflow writes a JSON string of specs; a hand-written YAML list is taken as well."""
    if raw is None:
        return None
    try:
        specs = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError as exc:
        raise _refused(f"the MLmodel signature's {what} are not valid JSON: {exc}") from None
    if specs is None:
        return None
    if not isinstance(specs, list) or not all(isinstance(spec, dict) for spec in specs):
        raise _refused(f"the MLmodel signature's {what} are not a list of column or tensor specs")
    return specs


def _type(own: Feature, column: Column, framework: Framework, source: str) -> FeatureType:
    if own.type is not FeatureType.DOUBLE:
        return own.type
    if column.type is FeatureType.STRING and framework is not Framework.SKLEARN:
        raise _refused(
            f"{source} says {column.name or own.name} is a string, but the {framework.value} model reads numbers"
        )
    return column.type


def _first_line(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _one_line(exc: Exception) -> str:
    """A YAML error over its several lines (problem, then where), short enough for a message."""
    text = "; ".join(line.strip() for line in str(exc).strip().splitlines() if line.strip())
    return text if len(text) <= 300 else text[:297] + "..."


def _refused(message: str) -> NotAModel:
    return NotAModel(message, field="content")
