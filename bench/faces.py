"""Every prediction face of one champion deployment, each with the same rows in its own wire format.

bench/run.py loads each face at the same point (1 row, the top concurrency) and reports its
req/s as a ratio to the WML scoring route's: the issue's goal is every face within 10% of the
others. Before the load, one request per face must give the WML route's answer (the same label,
the same top probability), so that no face is fast because it does less.

The bodies are the ones the faces' own tests send:

- WML scoring: `{"input_data": [{"fields": [...], "values": [[...]]}]}` (bench/run.py's body).
- Open Inference Protocol, one tensor per feature: `{"inputs": [{"name": "f0", "shape": [1],
  "datatype": "FP64", "data": [...]}, ...]}`.
- Open Inference Protocol, one 2-D tensor of whole rows: `{"inputs": [{"name": "input-0",
  "shape": [1, 20], "datatype": "FP64", "data": [...]}]}` (row-major, flat).
- DataRobot predApi, JSON records: `[{"f0": ..., ...}]`.
- DataRobot predApi, CSV: a header line and one line per row, `Content-Type: text/csv`
  (answered in JSON, the default `Accept`).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
from pathlib import Path
from typing import Any

import httpx


class FaceError(RuntimeError):
    """A face answered something other than the WML route's answer."""


@dataclasses.dataclass(frozen=True)
class Face:
    name: str
    path: str
    body: Path
    content_type: str

    def answer(self, base_url: str, authorization: str) -> tuple[str, float]:
        """(label, top probability) of the first row, from one request."""
        headers = {"Content-Type": self.content_type, "Authorization": authorization}
        response = httpx.post(base_url + self.path, content=self.body.read_bytes(), headers=headers, timeout=30)
        if response.status_code != 200:
            raise FaceError(f"{self.name} answered {response.status_code}: {response.text[:500]}")
        return first_row(self.name, response.json())


WML = "WML scoring"
OIP_COLUMNS = "OIP, one tensor per feature"
OIP_MATRIX = "OIP, one 2-D tensor"
DR_JSON = "DataRobot predApi, JSON"
DR_CSV = "DataRobot predApi, CSV"


def faces(wml_path: str, deployment_id: str, wml_body: Path, folder: Path) -> list[Face]:
    """The five faces for the rows of `wml_body` (WML's own body is used as it is)."""
    (block,) = json.loads(wml_body.read_text())["input_data"]
    fields: list[str] = block["fields"]
    rows: list[list[float]] = block["values"]
    columns = {
        "inputs": [
            {"name": name, "shape": [len(rows)], "datatype": "FP64", "data": [row[i] for row in rows]}
            for i, name in enumerate(fields)
        ]
    }
    matrix = {
        "inputs": [
            {
                "name": "input-0",
                "shape": [len(rows), len(fields)],
                "datatype": "FP64",
                "data": [value for row in rows for value in row],
            }
        ]
    }
    records = [dict(zip(fields, row, strict=True)) for row in rows]
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(fields)
    writer.writerows([[repr(value) for value in row] for row in rows])

    stem = wml_body.stem
    written = {
        "oip-columns": json.dumps(columns),
        "oip-matrix": json.dumps(matrix),
        "dr-records": json.dumps(records),
        "dr-csv": text.getvalue(),
    }
    paths = {}
    for name, content in written.items():
        paths[name] = folder / f"{stem}-{name}.{'csv' if name == 'dr-csv' else 'json'}"
        paths[name].write_text(content)
    infer = f"/v2/models/{deployment_id}/infer"
    predapi = f"/predApi/v1.0/deployments/{deployment_id}/predictions"
    return [
        Face(WML, wml_path, wml_body, "application/json"),
        Face(OIP_COLUMNS, infer, paths["oip-columns"], "application/json"),
        Face(OIP_MATRIX, infer, paths["oip-matrix"], "application/json"),
        Face(DR_JSON, predapi, paths["dr-records"], "application/json"),
        Face(DR_CSV, predapi, paths["dr-csv"], "text/csv"),
    ]


def check_same_answers(all_faces: list[Face], base_url: str, authorization: str, tolerance: float) -> None:
    """Every face gives the WML route's label, and its top probability within `tolerance`, for the same row."""
    expected = all_faces[0].answer(base_url, authorization)
    for face in all_faces[1:]:
        label, top = face.answer(base_url, authorization)
        if label != expected[0] or not math.isclose(top, expected[1], rel_tol=0, abs_tol=tolerance):
            raise FaceError(f"{face.name} answered {(label, top)}, the WML route {expected}")


def first_row(name: str, answer: Any) -> tuple[str, float]:
    try:
        if "predictions" in answer:  # WML
            label, probabilities = answer["predictions"][0]["values"][0]
            return str(label), max(probabilities)
        if "outputs" in answer:  # Open Inference Protocol
            outputs = {output["name"]: output for output in answer["outputs"]}
            proba = outputs["predict_proba"]
            width = proba["shape"][1]
            return str(outputs["predict"]["data"][0]), max(proba["data"][:width])
        row = answer["data"][0]  # DataRobot
        return str(row["prediction"]), max(value["value"] for value in row["predictionValues"])
    except (KeyError, IndexError, TypeError, ValueError) as error:
        raise FaceError(f"{name} answered in an unexpected shape ({error!r}): {json.dumps(answer)[:500]}") from None
