"""DataRobot's prediction API in-process: every input form, both output forms, errors, auth and visibility."""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from starlette.requests import Request

from champion.api.datarobot import predict_input
from champion.errors import PayloadTooLarge
from champion.models.software_specs import CATALOGUE
from tests.api.test_wml_deployments import V, deploy, wait_until_settled
from tests.api.test_wml_routes import Server, serving
from tests.model_files import FEATURES, ModelFiles, build_failing, training_data

LIMIT = 64 * 1024
ROWS = training_data(rows=6, seed=11)[0]


@dataclass(frozen=True)
class Deployed:
    id: str
    model_id: str
    estimator: Any

    @property
    def version(self) -> str:
        return f"{self.model_id}:1"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("dr-predict-home"), "alice", "bob", "mallory", max_request_bytes=LIMIT) as s:
        yield s


@pytest.fixture(scope="module")
def space(server: Server) -> str:
    space_id: str = server.call("POST", "/v2/spaces", json={"name": "team"}).json()["metadata"]["id"]
    members = {"members": [{"id": server.ids["bob"], "type": "user", "role": "viewer"}]}
    assert server.call("POST", f"/v2/spaces/{space_id}/members", json=members).status_code == 200
    return space_id


def deployed(server: Server, space: str, path: Path, name: str, label: str | None = None) -> Deployed:
    body = {"name": name, "type": "scikit-learn_1.3", "software_spec": {"id": CATALOGUE[0].id}, "space_id": space}
    if label is not None:
        body["label_column"] = label
    model_id: str = server.call("POST", "/ml/v4/models", params=V, json=body).json()["metadata"]["id"]
    put = server.call("PUT", f"/ml/v4/models/{model_id}/content", params={"space_id": space}, content=path.read_bytes())
    assert put.status_code == 201, put.text
    deployment_id: str = deploy(server, space, model_id, name=name)["metadata"]["id"]
    assert wait_until_settled(server, space, deployment_id)["entity"]["status"]["state"] == "ready"
    return Deployed(deployment_id, model_id, joblib.load(path))


@pytest.fixture(scope="module")
def binary(server: Server, space: str, model_files: ModelFiles) -> Deployed:
    return deployed(server, space, model_files.classifier_named, "binary", label="churn")


@pytest.fixture(scope="module")
def multiclass(server: Server, space: str, tmp_path_factory: pytest.TempPathFactory) -> Deployed:
    frame, _ = training_data()
    grade = np.where(frame["x1"] > 0.5, "high", np.where(frame["x1"] < -0.5, "low", "mid"))
    path = tmp_path_factory.mktemp("multiclass") / "grades.joblib"
    joblib.dump(LogisticRegression().fit(frame, grade), path)
    return deployed(server, space, path, "multiclass", label="grade")


@pytest.fixture(scope="module")
def regressor(server: Server, space: str, model_files: ModelFiles) -> Deployed:
    # No label_column: the target is rendered under DataRobot-style fallback name "target".
    return deployed(server, space, model_files.regressor, "regressor")


def predict(
    server: Server,
    deployment: Deployed | str,
    who: str | None = "alice",
    prefix: str = "/predApi/v1.0",
    suffix: str = "",
    **kwargs: Any,
) -> httpx.Response:
    key = deployment.id if isinstance(deployment, Deployed) else deployment
    return server.call("POST", f"{prefix}/deployments/{key}/predictions{suffix}", who=who, **kwargs)


def records(frame: pd.DataFrame = ROWS) -> list[dict[str, Any]]:
    return frame.to_dict(orient="records")  # type: ignore[return-value]


def csv_of(frame: pd.DataFrame = ROWS) -> bytes:
    return frame.to_csv(index=False).encode()


def as_csv(body: bytes, content_type: str = "text/csv", **headers: str) -> dict[str, Any]:
    return {"content": body, "headers": {"Content-Type": content_type, **headers}}


def assert_error(response: httpx.Response, status: int, *named: str) -> str:
    """A DataRobot error: `{"message": ...}` as application/json, naming each of `named`."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    message: str = response.json()["message"]
    for name in named:
        assert name in message, message
    return message


def data(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    rows: list[dict[str, Any]] = response.json()["data"]
    return rows


def table(response: httpx.Response) -> pd.DataFrame:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return pd.read_csv(io.BytesIO(response.content))


# --------------------------------------------------------------------------- JSON output


def test_binary_json_answers_like_the_model(server: Server, binary: Deployed) -> None:
    response = predict(server, binary, json=records())
    assert response.headers["Champion-Model-Version"] == binary.version
    assert int(response.headers["X-DataRobot-Execution-Time"]) >= 0
    assert response.headers["X-DataRobot-Model-Cache-Hit"] == "true"
    rows = data(response)
    proba = binary.estimator.predict_proba(ROWS)
    labels = binary.estimator.predict(ROWS).tolist()
    assert [row["rowId"] for row in rows] == list(range(len(ROWS)))
    assert [row["prediction"] for row in rows] == labels
    for row, p in zip(rows, proba, strict=True):
        assert row["predictionThreshold"] == 0.5
        # The positive class (the model's second) first, as DataRobot lists it.
        assert [v["label"] for v in row["predictionValues"]] == [1, 0]
        np.testing.assert_allclose([v["value"] for v in row["predictionValues"]], [p[1], p[0]])
        assert set(row) == {"rowId", "prediction", "predictionValues", "predictionThreshold"}


def test_multiclass_json_lists_every_class_without_a_threshold(server: Server, multiclass: Deployed) -> None:
    rows = data(predict(server, multiclass, json=records()))
    proba = multiclass.estimator.predict_proba(ROWS)
    assert [row["prediction"] for row in rows] == multiclass.estimator.predict(ROWS).tolist()
    for row, p in zip(rows, proba, strict=True):
        assert "predictionThreshold" not in row
        assert [v["label"] for v in row["predictionValues"]] == ["high", "low", "mid"]
        np.testing.assert_allclose([v["value"] for v in row["predictionValues"]], p)


def test_regression_json_names_the_target(server: Server, regressor: Deployed) -> None:
    rows = data(predict(server, regressor, json=records()))
    expected = regressor.estimator.predict(ROWS)
    np.testing.assert_allclose([row["prediction"] for row in rows], expected)
    for row in rows:
        assert row["predictionValues"] == [{"label": "target", "value": row["prediction"]}]
        assert set(row) == {"rowId", "prediction", "predictionValues"}


# --------------------------------------------------------------------------- CSV output


def test_binary_csv_has_datarobot_columns(server: Server, binary: Deployed) -> None:
    frame = table(predict(server, binary, **as_csv(csv_of(), Accept="text/csv")))
    assert list(frame.columns) == [
        "churn_1_PREDICTION",
        "churn_0_PREDICTION",
        "churn_PREDICTION",
        "THRESHOLD",
        "POSITIVE_CLASS",
        "DEPLOYMENT_APPROVAL_STATUS",
    ]
    proba = binary.estimator.predict_proba(ROWS)
    np.testing.assert_allclose(frame["churn_1_PREDICTION"], proba[:, 1])
    np.testing.assert_allclose(frame["churn_0_PREDICTION"], proba[:, 0])
    assert frame["churn_PREDICTION"].tolist() == binary.estimator.predict(ROWS).tolist()
    assert set(frame["THRESHOLD"]) == {0.5} and set(frame["POSITIVE_CLASS"]) == {1}
    assert set(frame["DEPLOYMENT_APPROVAL_STATUS"]) == {"APPROVED"}


def test_multiclass_csv_has_a_column_per_class(server: Server, multiclass: Deployed) -> None:
    frame = table(predict(server, multiclass, json=records(), headers={"Accept": "text/csv"}))
    assert list(frame.columns) == [
        "grade_high_PREDICTION",
        "grade_low_PREDICTION",
        "grade_mid_PREDICTION",
        "grade_PREDICTION",
        "DEPLOYMENT_APPROVAL_STATUS",
    ]
    np.testing.assert_allclose(frame.iloc[:, :3].to_numpy(), multiclass.estimator.predict_proba(ROWS))
    assert frame["grade_PREDICTION"].tolist() == multiclass.estimator.predict(ROWS).tolist()


def test_regression_csv(server: Server, regressor: Deployed) -> None:
    frame = table(predict(server, regressor, **as_csv(csv_of(), Accept="text/csv")))
    assert list(frame.columns) == ["target_PREDICTION", "DEPLOYMENT_APPROVAL_STATUS"]
    np.testing.assert_allclose(frame["target_PREDICTION"], regressor.estimator.predict(ROWS))


@pytest.mark.parametrize(
    ("accept", "csv"),
    [
        ("text/csv", True),
        ("text/csv; q=0.9, application/json", True),
        ("application/json, text/csv", False),
        ("*/*", False),
        (None, False),
    ],
)
def test_accept_chooses_the_output(server: Server, binary: Deployed, accept: str | None, csv: bool) -> None:
    headers = {"Accept": accept} if accept else {}
    response = predict(server, binary, json=records(), headers=headers)
    assert response.headers["content-type"].startswith("text/csv" if csv else "application/json")


# --------------------------------------------------------------------------- input forms


def test_every_input_form_gives_the_same_answer(server: Server, binary: Deployed) -> None:
    expected = data(predict(server, binary, json=records()))
    forms = {
        "csv": as_csv(csv_of()),
        "text/plain": as_csv(csv_of(), "text/plain; charset=UTF-8"),
        "json with charset": {
            "content": json.dumps(records()),
            "headers": {"Content-Type": "application/json; charset=UTF-8"},
        },
        "multipart csv": {"files": {"file": ("data.csv", csv_of(), "text/csv")}},
        "multipart octet-stream": {"files": {"file": ("data.csv", csv_of(), "application/octet-stream")}},
        "multipart json": {"files": {"file": ("data.json", json.dumps(records()).encode(), "application/json")}},
        "gzip csv": as_csv(gzip.compress(csv_of()), **{"Content-Encoding": "gzip"}),
        "gzip json": {
            "content": gzip.compress(json.dumps(records()).encode()),
            "headers": {"Content-Type": "application/json", "Content-Encoding": "gzip"},
        },
        "gzip in two members": as_csv(
            gzip.compress(csv_of()[:20]) + gzip.compress(csv_of()[20:]), **{"Content-Encoding": "gzip"}
        ),
    }
    for name, kwargs in forms.items():
        assert data(predict(server, binary, **kwargs)) == expected, name


def test_columns_in_any_order_and_extra_ones_ignored(server: Server, binary: Deployed) -> None:
    expected = data(predict(server, binary, json=records()))
    shuffled = ROWS[["x3", "x1", "x2"]].assign(customer=[f"c{i}" for i in range(len(ROWS))])
    assert data(predict(server, binary, **as_csv(csv_of(shuffled)))) == expected
    assert data(predict(server, binary, json=records(shuffled))) == expected


def test_the_api_v2_twin_answers_with_and_without_a_slash(server: Server, binary: Deployed) -> None:
    expected = data(predict(server, binary, json=records()))
    for suffix in ("", "/"):
        response = predict(server, binary, prefix="/api/v2", suffix=suffix, json=records())
        assert data(response) == expected
        assert response.headers["Champion-Model-Version"] == binary.version


def test_passthrough_columns_are_echoed(server: Server, binary: Deployed) -> None:
    frame = ROWS.assign(customer=[f"c{i}" for i in range(len(ROWS))], region="north")
    plain = data(predict(server, binary, json=records()))
    rows = data(predict(server, binary, json=records(frame), params={"passthroughColumns": ["customer"]}))
    assert [row["passthroughValues"] for row in rows] == [{"customer": f"c{i}"} for i in range(len(ROWS))]
    assert [{k: v for k, v in row.items() if k != "passthroughValues"} for row in rows] == plain
    out = table(
        predict(
            server,
            binary,
            **as_csv(csv_of(frame), Accept="text/csv"),
            params={"passthroughColumns": ["region", "customer"]},
        )
    )
    assert list(out.columns[:2]) == ["region", "customer"] and out["customer"].tolist() == frame["customer"].tolist()
    every = table(
        predict(server, binary, **as_csv(csv_of(frame), Accept="text/csv"), params={"passthroughColumnsSet": "all"})
    )
    assert list(every.columns[:5]) == [*FEATURES, "customer", "region"]
    np.testing.assert_allclose(every["x2"], frame["x2"])


def test_a_model_that_takes_missing_values_gets_empty_cells(
    server: Server, space: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    frame, target = training_data()
    path = tmp_path_factory.mktemp("missing") / "hgb.joblib"
    joblib.dump(HistGradientBoostingClassifier(max_iter=5).fit(frame, target), path)
    model = deployed(server, space, path, "takes-missing")
    body = b"x1,x2,x3\n1.0,,0.5\n,2.0,\n"
    rows = data(predict(server, model, **as_csv(body)))
    expected = model.estimator.predict_proba(
        pd.DataFrame([[1.0, np.nan, 0.5], [np.nan, 2.0, np.nan]], columns=FEATURES)
    )
    np.testing.assert_allclose([[v["value"] for v in r["predictionValues"]][::-1] for r in rows], expected)


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"json": [{"x1": 1.0, "x2": 2.0}]}, ["x3", "missing column"]),
        (as_csv(b"x1,x2\n1,2\n"), ["x3", "missing column"]),
        ({"json": [{"x1": 1.0, "x2": "abc", "x3": 3.0}]}, ["x2[0]", "expected a number"]),
        (as_csv(b"x1,x2,x3\n1,2,3\n1,abc,3\n"), ["x2[1]", "expected a number", "abc"]),
        (as_csv(b"x1,x2,x3\n1,,3\n"), ["x2[0]", "missing"]),
        ({"json": [{"x1": 1.0, "x2": True, "x3": 3.0}]}, ["x2[0]", "expected a number"]),
        ({"json": [{"x1": 1.0, "x2": 2.0, "x3": 3.0}, 7]}, ["rows[1]"]),
        ({"json": []}, ["body", "empty input"]),
        ({"json": {"x1": 1.0}}, ["body", "list of records"]),
        (as_csv(b""), ["body", "empty input"]),
        (as_csv(b"x1,x2,x3\n"), ["body", "empty input", "no rows"]),
        (as_csv(b"x1,x2,x3\n1,2,3\n1,2\n"), ["rows[1]", "2 values"]),
        (as_csv(b"x1,x2,x1,x3\n1,2,3,4\n"), ["x1", "twice"]),
        (as_csv(b"x1,x2,x3\n\xff\xfe,2,3\n"), ["body", "UTF-8"]),
        ({"content": b"[{not json", "headers": {"Content-Type": "application/json"}}, ["body", "JSON"]),
        ({"files": {"data": ("data.csv", b"x1,x2,x3\n1,2,3\n", "text/csv")}}, ["file"]),
        (as_csv(b"\x1f\x8b\x08\x00garbage", **{"Content-Encoding": "gzip"}), ["body", "gzip"]),
        (as_csv(gzip.compress(b"x1,x2,x3\n1,2,3\n")[:-12], **{"Content-Encoding": "gzip"}), ["body", "gzip"]),
        ({**as_csv(csv_of()), "params": {"maxExplanations": "3"}}, ["maxExplanations", "explanations"]),
        ({**as_csv(csv_of()), "params": {"maxExplanations": "x"}}, ["maxExplanations"]),
        ({**as_csv(csv_of()), "params": {"passthroughColumns": "nope"}}, ["passthroughColumns", "nope"]),
        ({**as_csv(csv_of()), "params": {"passthroughColumnsSet": "some"}}, ["passthroughColumnsSet"]),
    ],
)
def test_bad_input_is_a_400_naming_the_field(
    server: Server, binary: Deployed, kwargs: dict[str, Any], named: list[str]
) -> None:
    response = predict(server, binary, **kwargs)
    assert_error(response, 400, *named)
    # Refused by the champion's signature, and says which.
    assert response.headers["Champion-Model-Version"] == binary.version


@pytest.mark.parametrize(
    ("headers", "named"),
    [
        ({"Content-Type": "application/xml"}, ["Content-Type", "application/xml"]),
        ({"Content-Type": ""}, ["Content-Type"]),
        ({"Content-Type": "text/csv", "Content-Encoding": "br"}, ["Content-Encoding", "br"]),
        ({"Content-Type": "text/csv; charset=klingon"}, ["Content-Type", "klingon"]),
    ],
)
def test_unsupported_media_is_a_415(
    server: Server, binary: Deployed, headers: dict[str, str], named: list[str]
) -> None:
    assert_error(predict(server, binary, content=csv_of(), headers=headers), 415, *named)


def test_a_body_over_the_limit_is_a_413(server: Server, binary: Deployed) -> None:
    big = ROWS.sample(n=LIMIT // 40, replace=True, random_state=0)
    assert len(csv_of(big)) > LIMIT
    assert_error(predict(server, binary, **as_csv(csv_of(big))), 413, "body", "limit")


def test_a_gzip_bomb_is_a_413(server: Server, binary: Deployed) -> None:
    # 60 KB of gzip that inflates to 60 MB: under the limit on the wire, far over it inflated.
    bomb = gzip.compress(b"x1,x2,x3\n" + b"0" * (60 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < LIMIT
    response = predict(server, binary, **as_csv(bomb, **{"Content-Encoding": "gzip"}))
    assert_error(response, 413, "body", "inflated")


def test_a_gzip_bomb_is_refused_without_inflating_it() -> None:
    """Memory and time stay near the limit, not the bomb's inflated size."""
    bomb = gzip.compress(b"\0" * (512 * 1024 * 1024), compresslevel=9)  # 0.5 GB inflated, ~0.5 MB on the wire

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": bomb, "more_body": False}

    headers = [(b"content-encoding", b"gzip"), (b"content-type", b"text/csv")]
    request = Request({"type": "http", "method": "POST", "headers": headers}, receive)
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(PayloadTooLarge):
        asyncio.run(predict_input.read_body(request, limit=len(bomb) + 1024 * 1024))
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 16 * 1024 * 1024, peak
    assert elapsed < 1.0, elapsed


def test_a_deployment_that_cannot_answer_is_a_409(
    server: Server, space: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = build_failing(tmp_path_factory.mktemp("failing"))
    body = {"name": "doomed", "type": "scikit-learn_1.3", "software_spec": {"id": CATALOGUE[0].id}, "space_id": space}
    model_id = server.call("POST", "/ml/v4/models", params=V, json=body).json()["metadata"]["id"]
    server.call("PUT", f"/ml/v4/models/{model_id}/content", params={"space_id": space}, content=path.read_bytes())
    deployment_id = deploy(server, space, model_id, name="doomed")["metadata"]["id"]
    assert wait_until_settled(server, space, deployment_id)["entity"]["status"]["state"] == "failed"
    assert_error(predict(server, deployment_id, json=records()), 409, "failed", "not ready")


class FailsOnNines(LogisticRegression):
    """Answers warm-up and ordinary rows, but fails on x1 == 999: a model error, not bad input."""

    def predict_proba(self, X):  # type: ignore[no-untyped-def]
        if (np.asarray(X, dtype=float)[:, 0] == 999).any():
            raise ValueError("cannot score 999")
        return super().predict_proba(X)


def test_a_model_failure_is_a_500_in_datarobot_shape(
    server: Server, space: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    frame, target = training_data()
    path = tmp_path_factory.mktemp("nines") / "nines.joblib"
    joblib.dump(FailsOnNines().fit(frame, target), path)
    model = deployed(server, space, path, "nines")
    assert data(predict(server, model, json=records()))
    response = predict(server, model, json=[{"x1": 999, "x2": 0, "x3": 0}])
    assert_error(response, 500, "cannot score 999")
    assert response.headers["Champion-Model-Version"] == model.version


# --------------------------------------------------------------------------- auth and visibility


def test_token_and_bearer_keys_both_work_and_datarobot_key_is_ignored(server: Server, binary: Deployed) -> None:
    expected = data(predict(server, binary, json=records()))
    key = server.keys["alice"]
    for authorization in (f"Token {key}", f"Bearer {key}"):
        for extra in ({}, {"datarobot-key": "anything-at-all"}):
            headers = {"Authorization": authorization, **extra}
            assert data(predict(server, binary, who=None, json=records(), headers=headers)) == expected


def test_credentials_and_membership(server: Server, binary: Deployed) -> None:
    assert data(predict(server, binary, who="bob", json=records()))  # viewers may predict, as on the WML face
    assert_error(predict(server, binary, who="mallory", json=records()), 404, binary.id)
    assert_error(predict(server, "no-such-deployment", json=records()), 404)
    response = predict(server, binary, who=None, json=records())
    assert_error(response, 401, "Authorization")
    assert "Champion-Model-Version" not in response.headers
    bad = {"Authorization": "Token chp_nope.wrong"}
    assert_error(predict(server, binary, who=None, json=records(), headers=bad), 401)
