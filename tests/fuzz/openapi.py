"""The OpenAPI document the fuzz runs on: FastAPI's own, completed with what it cannot know.

champion serves no document (no /openapi.json), so the fuzz builds one in-process from
`app.openapi()`. That document describes the routes' parameters and the pydantic bodies well, but
it is wrong or silent where champion does something by hand, so each face's truth is added here,
in one place, with the reason:

- the hot prediction routes (WML scoring, Open Inference infer, DataRobot's prediction API) and
  /metrics are plain Starlette routes or left out of the schema, so they are missing: each gets a
  path item here;
- routes that read their body by hand (JSON Patch documents, model uploads,
  archive imports, attachment uploads) declare no body, or `{}`: their body is described here;
- each face renders errors in its own shape and never FastAPI's `422 {"detail": ...}`: WML and
  Open Inference answer a bad request 400, DataRobot 422 with `{"message", "errors"}`; the
  statuses of `champion/api/status.py` are declared, with each face's body, so a status or a body
  outside those (a 500, a FastAPI default) is a failure;
- the `authorization` header parameter FastAPI lists for each route is dropped: the fuzz sends a
  real key; authorization is tests/test_authorization_matrix.py's job;
- the web UI is left out: its forms are read by hand and need a session cookie and a CSRF token;
  the authorization matrix covers its routes.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI

from champion.api.inference.schemas import InferenceRequest
from champion.api.wml.schemas import ScoringRequest

OBJECT: dict[str, Any] = {"type": "object"}

# Routing errors (unknown path, wrong method) are rendered by app.py before a face is chosen.
ROUTING_ERROR: dict[str, Any] = {
    "type": "object",
    "required": ["errors"],
    "properties": {
        "errors": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            },
        }
    },
}
WML_ERROR: dict[str, Any] = {
    "type": "object",
    "required": ["trace", "errors", "status_code"],
    "properties": {
        "trace": {"type": "string", "minLength": 1},
        "status_code": {"type": "integer"},
        "errors": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "minLength": 1},
                    "message": {"type": "string", "minLength": 1},
                    "target": {
                        "type": "object",
                        "required": ["type", "name"],
                        "properties": {"type": {"const": "field"}, "name": {"type": "string", "minLength": 1}},
                    },
                },
            },
        },
    },
}
DATAROBOT_ERROR: dict[str, Any] = {
    "type": "object",
    "required": ["message"],
    "properties": {"message": {"type": "string", "minLength": 1}, "errors": OBJECT},
}
INFERENCE_ERROR: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string", "minLength": 1}},
}

# The statuses of champion/api/status.py, per face (DataRobot also answers a bad request 422, as
# DataRobot does, and an unreadable prediction body 415).
WML_STATUSES = ("400", "401", "403", "404", "409", "412", "413", "503")
INFERENCE_STATUSES = ("400", "401", "403", "404", "409", "413", "503")
DATAROBOT_STATUSES = ("400", "401", "403", "404", "409", "412", "413", "415", "422", "503")
# A path parameter holding an encoded `/` is decoded before routing, so it may reach no route.
ROUTING_STATUSES = ("404", "405")

JSON_PATCH: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["op", "path"],
        "properties": {
            "op": {"enum": ["add", "remove", "replace", "test", "move", "copy"]},
            "path": {"type": "string"},
            "from": {"type": "string"},
            "value": {},
        },
    },
}
BINARY: dict[str, Any] = {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}


def face_of(path: str) -> str:
    if path.startswith(("/api/v2/", "/predApi/")):
        return "datarobot"
    if path == "/v2" or path.startswith(("/v2/models", "/v2/health")):
        return "inference"
    return "wml"


def is_ui(path: str) -> bool:
    return path == "/" or path.startswith("/ui/")


def document(app: FastAPI, *, features: Sequence[str]) -> dict[str, Any]:
    """FastAPI's document of `app`, completed as the module docstring says.

    `features` are the served model's input names: the prediction bodies name them, so that
    generated rows reach the model rather than stop at "unknown field".
    """
    doc = copy.deepcopy(app.openapi())
    app.openapi_schema = None  # the app keeps no document of its own
    schemas: dict[str, Any] = doc.setdefault("components", {}).setdefault("schemas", {})
    doc["paths"] = {path: item for path, item in doc["paths"].items() if not is_ui(path)}
    doc["paths"].update(_hot_routes(features, schemas))
    doc["paths"]["/metrics"] = {
        "get": {
            "operationId": "metrics",
            "responses": {"200": {"description": "Prometheus text", "content": {"text/plain": {"schema": {}}}}},
        }
    }
    _describe_bodies(doc["paths"], schemas)
    for path, item in doc["paths"].items():
        for operation in item.values():
            operation["parameters"] = [p for p in operation.get("parameters", []) if p["name"] != "authorization"]
            _declare_errors(path, operation)
    return doc


def _declare_errors(path: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation["responses"]
    responses.pop("422", None)
    face = face_of(path)
    body, statuses = {
        "wml": (WML_ERROR, WML_STATUSES),
        "inference": (INFERENCE_ERROR, INFERENCE_STATUSES),
        "datarobot": (DATAROBOT_ERROR, DATAROBOT_STATUSES),
    }[face]
    for status in statuses:
        schema = body
        if status in ROUTING_STATUSES and face != "datarobot":
            schema = {"anyOf": [body, ROUTING_ERROR]}
        responses.setdefault(status, _json(f"{face} error", schema))
    for status in ROUTING_STATUSES:
        responses.setdefault(status, _json("routing error", body if face == "datarobot" else ROUTING_ERROR))


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _pydantic(model: Any, schemas: dict[str, Any]) -> dict[str, Any]:
    """A pydantic model's JSON Schema, its definitions moved where OpenAPI references point."""
    schema: dict[str, Any] = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in schema.pop("$defs", {}).items():
        schemas.setdefault(name, definition)
    return schema


def _hot_routes(features: Sequence[str], schemas: dict[str, Any]) -> dict[str, Any]:
    deployment = {"name": "deployment_id", "in": "path", "required": True, "schema": {"type": "string"}}
    wml_answer = {
        "type": "object",
        "required": ["predictions"],
        "properties": {
            "predictions": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["fields", "values"],
                    "properties": {"fields": {"type": "array"}, "values": {"type": "array"}},
                },
            }
        },
    }
    wml_body = _pydantic(ScoringRequest, schemas)
    # Name the model's fields often enough that generated blocks reach the engine.
    block = {
        "type": "object",
        "required": ["fields", "values"],
        "properties": {
            "fields": {"type": "array", "items": {"enum": list(features)}, "maxItems": len(features) + 1},
            "values": {"type": "array", "items": {"type": "array", "items": {"type": ["number", "string", "null"]}}},
        },
    }
    wml_body = {
        "anyOf": [
            {
                "type": "object",
                "required": ["input_data"],
                "properties": {"input_data": {"type": "array", "minItems": 1, "items": block}},
            },
            wml_body,
        ]
    }
    record = {
        "type": "object",
        "properties": {name: {"type": ["number", "string", "null"]} for name in features},
    }
    datarobot_operation = {
        "parameters": [
            deployment,
            {"name": "passthroughColumns", "in": "query", "required": False, "schema": {"type": "string"}},
        ],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "array", "items": record}},
                "text/csv": {"schema": {"type": "string"}},
            },
        },
        "responses": {
            "200": {
                "description": "predictions",
                "content": {
                    "application/json": {
                        "schema": {"type": "object", "required": ["data"], "properties": {"data": {"type": "array"}}}
                    },
                },
            }
        },
    }
    paths: dict[str, Any] = {
        "/ml/v4/deployments/{deployment_id}/predictions": {
            "post": {
                "operationId": "wml_score",
                "parameters": [deployment],
                "requestBody": {"required": True, "content": {"application/json": {"schema": wml_body}}},
                "responses": {"200": _json("predictions", wml_answer)},
            }
        }
    }
    for index, path in enumerate(
        (
            "/predApi/v1.0/deployments/{deployment_id}/predictions",
            "/api/v2/deployments/{deployment_id}/predictions",
            "/api/v2/deployments/{deployment_id}/predictions/",
        )
    ):
        paths[path] = {"post": {**copy.deepcopy(datarobot_operation), "operationId": f"datarobot_predict_{index}"}}
    paths["/v2/models/{model_name}/infer"] = {
        "post": {
            "operationId": "inference_infer",
            "parameters": [{"name": "model_name", "in": "path", "required": True, "schema": {"type": "string"}}],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _pydantic(InferenceRequest, schemas)}},
            },
            "responses": {
                "200": _json(
                    "inference answer",
                    {
                        "type": "object",
                        "required": ["model_name", "outputs"],
                        "properties": {"outputs": {"type": "array"}},
                    },
                )
            },
        }
    }
    versioned = copy.deepcopy(paths["/v2/models/{model_name}/infer"])
    versioned["post"]["operationId"] = "inference_infer_version"
    versioned["post"]["parameters"].append(
        {"name": "model_version", "in": "path", "required": True, "schema": {"type": "string"}}
    )
    paths["/v2/models/{model_name}/versions/{model_version}/infer"] = versioned
    return paths


def _describe_bodies(paths: dict[str, Any], schemas: dict[str, Any]) -> None:
    for path in ("/ml/v4/models/{model_id}", "/ml/v4/deployments/{deployment_id}"):
        paths[path]["patch"]["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": JSON_PATCH}},
        }
    paths["/ml/v4/models/{model_id}/content"]["put"]["requestBody"] = {"required": True, **BINARY}
    paths["/v2/spaces/{space_id}/import"]["post"]["requestBody"] = {"required": False, **BINARY}
    paths["/v2/assets/{asset_id}/attachments/{attachment_id}/upload"]["put"]["requestBody"] = {
        "required": True,
        **BINARY,
    }
    # Raw bytes and a gzip archive, not JSON, whatever FastAPI guessed.
    paths["/v2/assets/{asset_id}/attachments/{attachment_id}/content"]["get"]["responses"]["200"] = {
        "description": "the attachment's bytes"
    }
    paths["/v2/spaces/{space_id}/export"]["get"]["responses"]["200"] = {
        "description": "the space's archive",
        "content": {"application/gzip": {"schema": {}}},
    }
