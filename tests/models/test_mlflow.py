"""MLflow model folders, written by the real mlflow, uploaded as tars through the registry and the WML face."""

from __future__ import annotations

import ast
import io
import shutil
import tarfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm
import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
import xgboost
from onnx import numpy_helper
from onnx.external_data_helper import set_external_data
from skl2onnx import to_onnx
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPRegressor

import champion
from champion.context import ServerContext
from champion.models import service as models
from champion.models import software_specs
from champion.models.errors import NotAModel
from champion.models.mlflow import Column, LoggedModel
from champion.models.schemas import NewModel
from champion.models.tables import ModelVersion
from champion.runtimes import Feature, FeatureType, Framework, Signature, Target, TargetType
from champion.spaces import service as spaces
from champion.spaces.schemas import SpaceDetails
from champion.users.service import Actor
from tests.api.test_wml_deployments import deploy, score, wait_until_settled
from tests.api.test_wml_routes import Server, assert_wml_error, serving
from tests.model_files import tar_folder

with warnings.catch_warnings():
    # mlflow warns on import about optional extras; the tests only use it to write folders.
    warnings.simplefilter("ignore")
    import mlflow.lightgbm
    import mlflow.onnx
    import mlflow.sklearn
    import mlflow.xgboost
    from mlflow.models import infer_signature

V = {"version": "2026-10-14"}
COLUMNS = ["tenure", "spend", "rating", "visits"]
TYPES = ["double", "double", "double", "integer"]


@dataclass(frozen=True)
class Logged:
    """An MLflow model folder tarred as a user uploads it, the model it was saved from, and its WML type."""

    tar: Path
    model: Any
    model_type: str
    framework: str


def frame(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data = pd.DataFrame(rng.normal(size=(rows, 3)), columns=COLUMNS[:3])
    data["visits"] = rng.integers(0, 10, size=rows)
    return data


def target(data: pd.DataFrame) -> npt.NDArray[np.int64]:
    return ((data["tenure"] + 0.1 * data["visits"] - 0.5) > 0).astype(np.int64).to_numpy()


def save(folder: Path, top: str = "") -> Path:
    return tar_folder(folder, folder.with_suffix(".tar.gz"), top=top)


@pytest.fixture(scope="module")
def train() -> pd.DataFrame:
    return frame(200, seed=0)


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory, train: pd.DataFrame) -> dict[str, Logged]:
    """One folder per flavor, each saved by mlflow's own save_model with an inferred signature.

    `pip_requirements=[]` spares mlflow its requirement inference (a subprocess per folder).
    """
    home = tmp_path_factory.mktemp("mlflow")
    y = target(train)
    bare = train.to_numpy()  # fitted on a bare array: the model itself knows no column names
    out: dict[str, Logged] = {}
    with warnings.catch_warnings():
        # mlflow warns that integer columns cannot hold missing values, and about pickles.
        warnings.simplefilter("ignore")
        sk = LogisticRegression().fit(bare, y)
        mlflow.sklearn.save_model(
            sk,
            home / "sklearn",
            pip_requirements=[],
            serialization_format="cloudpickle",
            signature=infer_signature(train, sk.predict(bare)),
        )
        out["sklearn"] = Logged(save(home / "sklearn"), sk, "scikit-learn", "scikit-learn")

        xgb = xgboost.XGBClassifier(n_estimators=8, max_depth=3).fit(bare, y)
        mlflow.xgboost.save_model(
            xgb, home / "xgboost", pip_requirements=[], signature=infer_signature(train, xgb.predict(bare))
        )
        out["xgboost"] = Logged(save(home / "xgboost", top="xgboost-model"), xgb, "xgboost", "xgboost")

        booster = lightgbm.train(
            {"objective": "regression", "verbose": -1}, lightgbm.Dataset(bare, train["spend"].to_numpy()), 10
        )
        signature = infer_signature(train, booster.predict(bare))
        mlflow.lightgbm.save_model(booster, home / "lightgbm", pip_requirements=[], signature=signature)
        out["lightgbm"] = Logged(save(home / "lightgbm"), booster, "lightgbm", "lightgbm")

        lgbm = lightgbm.LGBMClassifier(n_estimators=8, verbose=-1).fit(train, y)
        mlflow.lightgbm.save_model(
            lgbm,
            home / "lgbm",
            pip_requirements=[],
            serialization_format="cloudpickle",
            signature=infer_signature(train, lgbm.predict(train)),
        )
        out["lgbm"] = Logged(save(home / "lgbm"), lgbm, "lightgbm", "scikit-learn")

        floats = bare.astype(np.float32)
        onnx_source = LogisticRegression().fit(floats, y)
        proto = to_onnx(onnx_source, floats[:1], options={"zipmap": False})
        mlflow.onnx.save_model(
            proto, home / "onnx", pip_requirements=[], signature=infer_signature(train, onnx_source.predict(floats))
        )
        out["onnx"] = Logged(save(home / "onnx"), onnx_source, "onnxruntime", "onnx")

        # Large enough that mlflow.onnx writes its weights to a file beside model.onnx.
        mlp = MLPRegressor(hidden_layer_sizes=(100,), max_iter=50, random_state=0).fit(floats, train["spend"])
        proto = to_onnx(mlp, floats[:1])
        for tensor in proto.graph.initializer:
            # onnx moves only tensors held as raw bytes out of the file; skl2onnx writes float lists.
            tensor.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(tensor), tensor.name))
        external = home / "onnx-external"
        mlflow.onnx.save_model(
            proto, external, pip_requirements=[], signature=infer_signature(train, mlp.predict(floats))
        )
        assert (
            {p.name for p in external.iterdir()}
            - {"model.onnx", "MLmodel", "conda.yaml", "python_env.yaml"}
            - {"requirements.txt"}
        ), "mlflow wrote the weights inside model.onnx"
        out["onnx-external"] = Logged(save(home / "onnx-external"), mlp, "onnxruntime", "onnx")
    return out


def expected(item: Logged, rows: pd.DataFrame) -> tuple[list[Any], npt.NDArray[np.float64] | None]:
    """What the original model answers: labels, and class probabilities for classifiers."""
    model = item.model
    if isinstance(model, lightgbm.Booster):
        return model.predict(rows.to_numpy()).tolist(), None
    if isinstance(model, MLPRegressor):
        return model.predict(rows.to_numpy().astype(np.float32)).tolist(), None
    data: Any = rows if isinstance(model, lightgbm.LGBMClassifier) else rows.to_numpy()
    if item.framework == "onnx":
        data = data.astype(np.float32)
    return model.predict(data).tolist(), np.asarray(model.predict_proba(data), dtype=np.float64)


# Through the registry service.


@pytest.fixture
def space_id(context: ServerContext, alice: Actor) -> str:
    with context.sessions() as session:
        return spaces.create_space(session, alice, details=SpaceDetails(name="s")).id


def upload(context: ServerContext, actor: Actor, space_id: str, tar: Path, model_type: str) -> ModelVersion:
    new = NewModel.model_validate(
        {
            "name": tar.name,
            "type": software_specs.versioned_type(model_type),
            "software_spec_id": software_specs.CATALOGUE[0].id,
        }
    )
    copy = tar.parent / f"upload-{time.monotonic_ns()}-{tar.name}"
    shutil.copy(tar, copy)
    with context.sessions() as session:
        model = models.create_model(session, actor, space_id=space_id, new=new)
        return models.add_version(
            session, actor, context.store, model_id=model.id, upload=copy, limit=context.settings.max_upload_bytes
        )


@pytest.mark.parametrize("flavor", ["sklearn", "xgboost", "lightgbm", "lgbm", "onnx", "onnx-external"])
def test_each_flavor_keeps_its_file_and_the_logged_signature(
    context: ServerContext, alice: Actor, space_id: str, logged: dict[str, Logged], flavor: str
) -> None:
    item = logged[flavor]
    version = upload(context, alice, space_id, item.tar, item.model_type)
    assert version.framework == item.framework
    features = version.signature["features"]
    assert [f["name"] for f in features] == COLUMNS
    assert version.signature["named"] is True
    # The logged types, the integer column included (every runtime here reads it as a number).
    assert [f["type"] for f in features] == TYPES
    assert "MLmodel" not in version.filename
    assert context.store.exists(version.sha256)


def test_the_target_is_the_models_own(
    context: ServerContext, alice: Actor, space_id: str, logged: dict[str, Logged]
) -> None:
    classifier = upload(context, alice, space_id, logged["xgboost"].tar, "xgboost")
    assert classifier.signature["target"]["type"] == "binary"
    assert classifier.signature["target"]["classes"] == [0, 1]
    regressor = upload(context, alice, space_id, logged["lightgbm"].tar, "lightgbm")
    assert regressor.signature["target"]["type"] == "regression"


def test_the_flavor_file_must_match_the_declared_type(
    context: ServerContext, alice: Actor, space_id: str, logged: dict[str, Logged]
) -> None:
    with pytest.raises(NotAModel, match=r"the model type is scikit-learn.* but the file is a xgboost model"):
        upload(context, alice, space_id, logged["xgboost"].tar, "scikit-learn")


def test_champion_never_imports_mlflow() -> None:
    root = Path(champion.__file__).parent
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.append(node.module)
            assert not [n for n in names if n == "mlflow" or n.startswith("mlflow.")], path


# The merge rules, on signatures alone.


def own_signature(*names: str, named: bool = True, types: tuple[FeatureType, ...] = ()) -> Signature:
    kinds = types or (FeatureType.DOUBLE,) * len(names)
    return Signature(
        features=tuple(Feature(n, t) for n, t in zip(names, kinds, strict=True)),
        target=Target(type=TargetType.BINARY, classes=(0, 1)),
        named=named,
    )


def logged_with(*columns: tuple[str | None, FeatureType], output: str | None = None) -> LoggedModel:
    return LoggedModel("xgboost", Path("model.ubj"), tuple(Column(n, t) for n, t in columns), output)


def test_the_logged_names_replace_names_a_library_rewrote() -> None:
    # LightGBM writes "monthly spend" as "monthly_spend": the logged name is what clients send.
    own = own_signature("monthly_spend", "age")
    logged = logged_with(("monthly spend", FeatureType.DOUBLE), ("age", FeatureType.INTEGER), output="churned")
    merged = logged.signature(own, Framework.XGBOOST)
    assert [(f.name, f.type) for f in merged.features] == [("monthly spend", "double"), ("age", "integer")]
    assert merged.target == Target(type=TargetType.BINARY, classes=(0, 1), name="churned")


def test_the_same_names_in_another_order_keep_the_models_order() -> None:
    own = own_signature("a", "b")
    merged = logged_with(("b", FeatureType.INTEGER), ("a", FeatureType.DOUBLE)).signature(own, Framework.XGBOOST)
    assert [(f.name, f.type) for f in merged.features] == [("a", "double"), ("b", "integer")]


def test_a_type_the_model_pins_stays_and_strings_need_a_runtime_that_reads_them() -> None:
    own = own_signature("a", "b", types=(FeatureType.BOOLEAN, FeatureType.DOUBLE))
    merged = logged_with(("a", FeatureType.DOUBLE), ("b", FeatureType.STRING)).signature(own, Framework.SKLEARN)
    assert [f.type for f in merged.features] == [FeatureType.BOOLEAN, FeatureType.STRING]
    with pytest.raises(NotAModel, match="says b is a string, but the xgboost model reads numbers"):
        logged_with(("a", FeatureType.DOUBLE), ("b", FeatureType.STRING)).signature(own, Framework.XGBOOST)


# Refusals, on folders written by hand in MLflow's layout.

SKLEARN_MLMODEL = """\
flavors:
  python_function:
    loader_module: mlflow.sklearn
    model_path: model.pkl
  sklearn:
    pickled_model: {file}
    serialization_format: {form}
signature:
  inputs: '[{{"type": "double", "name": "a"}}, {{"type": "double", "name": "b"}}, {{"type": "double", "name": "c"}}]'
"""


def handmade(tmp_path: Path, members: dict[str, bytes]) -> Path:
    """A gzip tar with exactly these members (names as given, `..` included)."""
    path = tmp_path / f"handmade-{len(list(tmp_path.iterdir()))}.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return path


@pytest.fixture(scope="module")
def pickle_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    import joblib

    rng = np.random.default_rng(1)
    x = rng.normal(size=(50, 3))
    path = tmp_path_factory.mktemp("pickle") / "model.pkl"
    joblib.dump(LogisticRegression().fit(x, (x[:, 0] > 0).astype(int)), path)
    return path.read_bytes()


def sklearn_folder(pickle_bytes: bytes, *, file: str = "model.pkl", form: str = "cloudpickle") -> dict[str, bytes]:
    return {"MLmodel": SKLEARN_MLMODEL.format(file=file, form=form).encode(), "model.pkl": pickle_bytes}


def refused(context: ServerContext, actor: Actor, space_id: str, tar: Path, model_type: str = "scikit-learn") -> str:
    with pytest.raises(NotAModel) as caught:
        upload(context, actor, space_id, tar, model_type)
    assert caught.value.field == "content"
    return str(caught.value)


def test_a_handmade_folder_loads(
    context: ServerContext, alice: Actor, space_id: str, pickle_bytes: bytes, tmp_path: Path
) -> None:
    version = upload(context, alice, space_id, handmade(tmp_path, sklearn_folder(pickle_bytes)), "scikit-learn")
    assert [f["name"] for f in version.signature["features"]] == ["a", "b", "c"]


def test_python_function_only_is_refused_naming_the_flavor(
    context: ServerContext, alice: Actor, space_id: str, tmp_path: Path
) -> None:
    mlmodel = b"flavors:\n  python_function:\n    loader_module: mymodel\n    code: code\n"
    message = refused(context, alice, space_id, handmade(tmp_path, {"m/MLmodel": mlmodel, "m/code/mymodel.py": b""}))
    assert "python_function" in message
    assert "onnx, xgboost, lightgbm, sklearn" in message


@pytest.mark.parametrize(
    ("members", "words"),
    [
        ({"MLmodel": b"flavors: [unclosed\n  sklearn: {"}, "not valid YAML"),
        ({"MLmodel": b"just a string"}, "not a YAML mapping"),
        ({"MLmodel": b"flavors:\n  sklearn:\n    pickled_model: gone.pkl\n"}, "gone.pkl, which is not a file"),
        ({"MLmodel": b"flavors:\n  sklearn:\n    pickled_model: ../../etc/passwd\n"}, "outside the model folder"),
        ({"MLmodel": b"flavors:\n  sklearn:\n    pickled_model: /etc/passwd\n"}, "outside the model folder"),
        ({"a/b/MLmodel": b"flavors: {}\n"}, "must be the archive's root or one folder"),
        ({"MLmodel": b"flavors: {}\n", "other/MLmodel": b"flavors: {}\n"}, "several MLmodel files"),
    ],
)
def test_broken_folders_are_refused(
    context: ServerContext, alice: Actor, space_id: str, tmp_path: Path, members: dict[str, bytes], words: str
) -> None:
    assert words in refused(context, alice, space_id, handmade(tmp_path, members))


def test_an_archive_escaping_its_folder_is_refused(
    context: ServerContext, alice: Actor, space_id: str, pickle_bytes: bytes, tmp_path: Path
) -> None:
    members = {**sklearn_folder(pickle_bytes), "../escaped.txt": b"out of the folder"}
    work = tmp_path / "work"
    work.mkdir()
    message = refused(context, alice, space_id, handmade(work, members))
    assert "../escaped.txt points outside the archive" in message
    assert not (tmp_path / "escaped.txt").exists()
    assert not list(context.settings.home.rglob("escaped.txt"))


def test_skops_and_other_formats_are_refused(
    context: ServerContext, alice: Actor, space_id: str, pickle_bytes: bytes, tmp_path: Path
) -> None:
    message = refused(context, alice, space_id, handmade(tmp_path, sklearn_folder(pickle_bytes, form="skops")))
    assert "saved as skops" in message and "cloudpickle" in message


def test_onnx_weights_outside_the_folder_are_refused(
    context: ServerContext, alice: Actor, space_id: str, tmp_path: Path, train: pd.DataFrame
) -> None:
    floats = train.to_numpy().astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # five iterations do not converge, and need not
        mlp = MLPRegressor(hidden_layer_sizes=(8,), max_iter=5).fit(floats, train["spend"])
    proto = to_onnx(mlp, floats[:1])
    weights = proto.graph.initializer[0]
    weights.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(weights), weights.name))
    set_external_data(weights, location="../secret.bin")
    weights.ClearField("raw_data")
    mlmodel = b"flavors:\n  onnx:\n    data: model.onnx\n"
    tar = handmade(tmp_path, {"m/MLmodel": mlmodel, "m/model.onnx": proto.SerializeToString()})
    message = refused(context, alice, space_id, tar, "onnxruntime")
    assert f"the ONNX weight {weights.name}" in message and "outside the model folder" in message


def test_the_unpacked_total_is_limited(
    context: ServerContext, alice: Actor, space_id: str, pickle_bytes: bytes, tmp_path: Path
) -> None:
    # Each member alone is under the limit; together they are not.
    filler = {f"extra-{i}.bin": b"\0" * 1_500_000 for i in range(4)}
    message = refused(context, alice, space_id, handmade(tmp_path, {**sklearn_folder(pickle_bytes), **filler}))
    assert "more than the limit" in message


def test_a_flavor_file_of_another_format_is_refused(
    context: ServerContext, alice: Actor, space_id: str, pickle_bytes: bytes, tmp_path: Path
) -> None:
    members = {
        "MLmodel": b"flavors:\n  xgboost:\n    data: model.pkl\n    model_format: json\n",
        "model.pkl": pickle_bytes,
    }
    message = refused(context, alice, space_id, handmade(tmp_path, members), "xgboost")
    assert "xgboost flavor points at model.pkl, a scikit-learn model" in message


@pytest.mark.parametrize(
    ("inputs", "words"),
    [
        ('[{"type": "double", "name": "a"}]', "has 1 inputs but the model takes 3"),
        ('[{"type": "datetime", "name": "a"}, {"type": "double"}, {"type": "double"}]', "type 'datetime'"),
        ("[not json", "not valid JSON"),
        ('[{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 28, 28]}}]', "shape [-1, 28, 28]"),
    ],
)
def test_signatures_champion_cannot_serve_are_refused(
    context: ServerContext,
    alice: Actor,
    space_id: str,
    pickle_bytes: bytes,
    tmp_path: Path,
    inputs: str,
    words: str,
) -> None:
    mlmodel = f"flavors:\n  sklearn:\n    pickled_model: model.pkl\nsignature:\n  inputs: '{inputs}'\n"
    members = {"MLmodel": mlmodel.encode(), "model.pkl": pickle_bytes}
    assert words in refused(context, alice, space_id, handmade(tmp_path, members))


def test_a_tensor_signature_keeps_the_models_placeholders(
    context: ServerContext, alice: Actor, space_id: str, pickle_bytes: bytes, tmp_path: Path
) -> None:
    inputs = '[{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1, 3]}}]'
    mlmodel = f"flavors:\n  sklearn:\n    pickled_model: model.pkl\nsignature:\n  inputs: '{inputs}'\n"
    tar = handmade(tmp_path, {"MLmodel": mlmodel.encode(), "model.pkl": pickle_bytes})
    version = upload(context, alice, space_id, tar, "scikit-learn")
    assert version.signature["features"] == [{"name": f"f{i}", "type": "integer"} for i in range(3)]
    assert version.signature["named"] is False


# Through the WML face, in-process: upload the tar, deploy, score.


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("mlflow-home"), "alice") as server:
        yield server


@pytest.fixture(scope="module")
def space(server: Server) -> str:
    space_id: str = server.call("POST", "/v2/spaces", json={"name": "team"}).json()["metadata"]["id"]
    return space_id


def new_model(server: Server, space: str, model_type: str) -> str:
    body = {
        "name": model_type,
        "type": software_specs.versioned_type(model_type),
        "software_spec": {"id": software_specs.CATALOGUE[0].id},
        "space_id": space,
    }
    response = server.call("POST", "/ml/v4/models", params=V, json=body)
    assert response.status_code == 201, response.text
    model_id: str = response.json()["metadata"]["id"]
    return model_id


def put_content(server: Server, space: str, model_id: str, content: bytes) -> Any:
    return server.call(
        "PUT",
        f"/ml/v4/models/{model_id}/content",
        params={**V, "space_id": space, "content_format": "native"},
        content=content,
        headers={"Content-Type": "application/gzip"},
    )


@pytest.mark.parametrize("flavor", ["sklearn", "xgboost", "lightgbm", "lgbm", "onnx", "onnx-external"])
def test_a_deployed_folder_answers_like_the_model(
    server: Server, space: str, logged: dict[str, Logged], flavor: str
) -> None:
    item = logged[flavor]
    model_id = new_model(server, space, item.model_type)
    put = put_content(server, space, model_id, item.tar.read_bytes())
    assert put.status_code == 201, put.text
    details = server.call("GET", f"/ml/v4/models/{model_id}", params={**V, "space_id": space}).json()
    assert [f["name"] for f in details["entity"]["schemas"]["input"][0]["fields"]] == COLUMNS

    created = deploy(server, space, model_id, name=f"dep-{flavor}")
    settled = wait_until_settled(server, space, created["metadata"]["id"])
    assert settled["entity"]["status"]["state"] == "ready", settled["entity"]["status"]

    rows = frame(6, seed=5)
    # The logged names, in another order than the model's: the fields are matched by name.
    shuffled = list(reversed(COLUMNS))
    values = rows[shuffled].astype(object).to_numpy().tolist()
    response = score(server, created["metadata"]["id"], {"input_data": [{"fields": shuffled, "values": values}]})
    assert response.status_code == 200, response.text
    (block,) = response.json()["predictions"]
    labels, probabilities = expected(item, rows)
    got = [row[0] for row in block["values"]]
    if probabilities is None:
        np.testing.assert_allclose(got, labels, rtol=1e-5, atol=1e-5)
    else:
        assert got == labels
        np.testing.assert_allclose([row[1] for row in block["values"]], probabilities, rtol=1e-5, atol=1e-6)


def test_the_wml_face_refuses_python_function_with_400(server: Server, space: str, tmp_path: Path) -> None:
    model_id = new_model(server, space, "scikit-learn")
    tar = handmade(tmp_path, {"MLmodel": b"flavors:\n  python_function:\n    loader_module: custom\n"})
    message = assert_wml_error(put_content(server, space, model_id, tar.read_bytes()), 400, "content")
    assert "python_function" in message
