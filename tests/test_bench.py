"""The benchmark's own logic (bench/): every face gets the same rows, and the limits table says what it measured.

The bench itself is run by `make bench`, never by the suite; these check the parts that would
silently measure the wrong thing: a face body with other numbers than the WML body, a ratio
taken the wrong way round, a disturbed point left unmarked.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import pytest
from starlette.testclient import TestClient

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))

import faces  # noqa: E402
import floor_app  # noqa: E402
import limits  # noqa: E402
import limits_report  # noqa: E402
import run  # noqa: E402

sys.path.remove(str(BENCH))  # the bench's module names (run, limits, faces) are not the suite's to shadow

ROWS = [[0.5, -1.25, 3.0], [1e-7, 2.5, -0.125]]
FIELDS = ["f0", "f1", "f2"]


@pytest.fixture
def wml_body(tmp_path: Path) -> Path:
    path = tmp_path / "body-2.json"
    path.write_text(json.dumps({"input_data": [{"fields": FIELDS, "values": ROWS}]}))
    return path


def test_every_face_body_holds_the_wml_rows(tmp_path: Path, wml_body: Path) -> None:
    by_name = {face.name: face for face in faces.faces("/ml/v4/deployments/d1/predictions", "d1", wml_body, tmp_path)}
    assert list(by_name) == [faces.WML, faces.OIP_COLUMNS, faces.OIP_MATRIX, faces.DR_JSON, faces.DR_CSV]

    columns = json.loads(by_name[faces.OIP_COLUMNS].body.read_text())["inputs"]
    assert [c["name"] for c in columns] == FIELDS
    assert all(c["shape"] == [2] and c["datatype"] == "FP64" for c in columns)
    assert [[c["data"][i] for c in columns] for i in range(2)] == ROWS

    (matrix,) = json.loads(by_name[faces.OIP_MATRIX].body.read_text())["inputs"]
    assert matrix["shape"] == [2, 3] and matrix["name"] not in FIELDS
    assert [matrix["data"][0:3], matrix["data"][3:6]] == ROWS

    records = json.loads(by_name[faces.DR_JSON].body.read_text())
    assert [[r[f] for f in FIELDS] for r in records] == ROWS

    table = list(csv.reader(io.StringIO(by_name[faces.DR_CSV].body.read_text())))
    assert table[0] == FIELDS and [[float(v) for v in row] for row in table[1:]] == ROWS
    assert by_name[faces.DR_CSV].content_type == "text/csv"
    assert by_name[faces.OIP_COLUMNS].path == "/v2/models/d1/infer"
    assert by_name[faces.DR_JSON].path == "/predApi/v1.0/deployments/d1/predictions"


def test_each_face_answer_reads_as_label_and_top_probability() -> None:
    wml = {"predictions": [{"fields": ["prediction", "probability"], "values": [[1, [0.25, 0.75]]]}]}
    oip = {
        "outputs": [
            {"name": "predict", "shape": [1], "datatype": "INT64", "data": [1]},
            {"name": "predict_proba", "shape": [1, 2], "datatype": "FP64", "data": [0.25, 0.75]},
        ]
    }
    dr = {"data": [{"prediction": 1, "predictionValues": [{"label": 1, "value": 0.75}, {"label": 0, "value": 0.25}]}]}
    assert {faces.first_row("x", answer) for answer in (wml, oip, dr)} == {("1", 0.75)}
    with pytest.raises(faces.FaceError, match="unexpected shape"):
        faces.first_row("x", {"data": []})


def test_the_floor_reads_the_body_and_answers_a_constant() -> None:
    with TestClient(floor_app.app) as client:
        response = client.post("/ml/v4/deployments/any/predictions", content=b'{"input_data": []}')
    assert response.status_code == 200
    assert response.json()["predictions"][0]["fields"] == ["prediction", "probability"]


def _load(rps: float, other: float = 0.0) -> run.Load:
    return run.Load(rps, 10.0, 40.0, int(rps * 10), 0, "", server_cores=1.0, other_cores=other)


def test_the_limits_table_takes_each_ratio_against_its_limit() -> None:
    compute = {100: limits.ComputeTime(100, 2.0, 2.1, 3.0, 500)}
    table, data = limits_report.report(
        limits_report.Limits(
            workers=1,
            floor={(1, 32): _load(4000), (100, 8): _load(3000)},
            champion={(1, 32): _load(1000), (100, 8): _load(250, other=0.5)},
            faces={"WML scoring": _load(1000), "OIP, one 2-D tensor": _load(950), "DataRobot predApi, CSV": _load(800)},
            compute=compute,
            served_compute={100: limits.ComputeTime(100, 0.5, 0.5, 0.6, 2000)},
            served_form="onnxruntime",
        ),
        top=32,
        quiet_cores=0.15,
    )
    rows = {row["point"]: row for row in data["rows"]}
    assert rows["1 row, c32, WML scoring route"]["ratio"] == "0.25x"
    assert rows["1 row, c32, WML scoring route"]["met"] is False  # goal ≥ 0.35x of the floor
    assert rows["1 row, c32, OIP, one 2-D tensor"]["met"] is True  # within 10% of the WML route
    assert rows["1 row, c32, DataRobot predApi, CSV"]["met"] is False
    # 100 rows at c8 against 1 / compute time: 250 req/s against 500; other processes were busy.
    assert rows["100 rows, c8 ⚠"]["ratio"] == "0.50x"
    assert "| 100 | 8 ⚠ | 3000 | 250 | 0.08x |" in table
    # ... and against the form champion serves: 250 req/s against 1 / 0.5 ms.
    assert rows["100 rows, c8, against the served form ⚠"]["ratio"] == "0.12x"


def test_a_faces_figure_is_its_median_round_whole() -> None:
    rounds = [_load(900), _load(2000, other=0.3), _load(1100, other=0.1)]
    median = limits_report.median_load(rounds)
    assert median.rps == 1100 and median.other_cores == 0.1  # one real round: its figures belong together
    assert limits_report.median_load([_load(900), _load(1000)]).rps == 1000  # of two middles, the upper


def test_the_faces_rounds_are_bounded() -> None:
    assert run.parse_args(["--generator", "python"]).face_rounds == 3
    with pytest.raises(SystemExit):
        run.parse_args(["--generator", "python", "--face-rounds", "0"])
