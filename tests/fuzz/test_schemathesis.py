"""Fuzz every operation of the three API faces with schemathesis, in-process, behind real ids.

The app runs in this process behind schemathesis's ASGI transport, which also runs its lifespan
(the operation runner and the follower that loads models) from the module's setup to its end
(schemathesis's pytest plugin, which would stop it after every test, is off: pyproject.toml). It
runs on SQLite and on PostgreSQL, on a home with a space, a member's API key,
a real uploaded model, a ready online and batch deployment, a batch job, a data asset with an
attachment and a deployment made through the DataRobot face. Generated path parameters and
`space_id`s are swapped for those real ids most of the time, so the fuzz reaches the code behind
the lookups and not only 404s.

Every answer must be no server error and must conform to the document tests/fuzz/openapi.py
builds: a declared status, the declared content type, and the declared body (each face's error
shape included).

`CHAMPION_FUZZ_EXAMPLES` sets the examples per operation: small in `make test`, large in
`make fuzz`. Deletions run last, each on a victim made for it, so they ruin nothing.
"""

from __future__ import annotations

import hashlib
import io
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.schemas import BaseSchema
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from champion.app import create_app
from champion.config import Settings
from champion.context import ServerContext, open_context
from champion.models.software_specs import CATALOGUE
from champion.users import service as users
from tests.api.test_authentication import routes
from tests.fuzz.conftest import SUMMARY
from tests.fuzz.openapi import document, is_ui
from tests.model_files import FEATURES, ModelFiles, training_data

EXAMPLES = int(os.environ.get("CHAMPION_FUZZ_EXAMPLES", "12"))
# The short run in `make test` draws the same examples every time, so it cannot turn red by chance
# in someone else's change; `make fuzz` (which sets the variable) explores afresh each run.
DETERMINISTIC = "CHAMPION_FUZZ_EXAMPLES" not in os.environ
# One request may not take longer than this (seconds): a hang fails the run instead of stalling it.
REQUEST_TIMEOUT = 20
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
V = {"version": "2026-10-14"}


@dataclass
class World:
    """The app, a client that runs it in-process, and the real ids the fuzz fills parameters with."""

    app: Any
    client: requests.Session
    context: ServerContext
    key: str
    classifier: bytes
    ids: dict[str, str] = field(default_factory=dict)
    requests: int = 0
    statuses: dict[int, int] = field(default_factory=dict)

    def call(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.key}", **kwargs.pop("headers", {})}
        return self.client.request(method, url, headers=headers, timeout=REQUEST_TIMEOUT, **kwargs)

    def ok(self, method: str, url: str, status: int, **kwargs: Any) -> Any:
        response = self.call(method, url, **kwargs)
        assert response.status_code == status, f"{method} {url}: {response.status_code} {response.text}"
        return response.json() if response.content else None


def new_model(world: World, content: bytes, name: str = "m") -> str:
    space = world.ids["space_id"]
    body = {"name": name, "type": "scikit-learn_1.3", "software_spec": {"id": CATALOGUE[0].id}, "space_id": space}
    model_id: str = world.ok("POST", "/ml/v4/models", 201, params=V, json=body)["metadata"]["id"]
    world.ok("PUT", f"/ml/v4/models/{model_id}/content", 201, params={"space_id": space}, data=content)
    return model_id


def new_deployment(world: World, model_id: str, **extra: Any) -> str:
    body = {"name": "dep", "online": {}, "asset": {"id": model_id}, "space_id": world.ids["space_id"], **extra}
    deployment_id: str = world.ok("POST", "/ml/v4/deployments", 202, params=V, json=body)["metadata"]["id"]
    return deployment_id


def wait_ready(world: World, deployment_id: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        details = world.ok(
            "GET", f"/ml/v4/deployments/{deployment_id}", 200, params={"space_id": world.ids["space_id"]}
        )
        state = details["entity"]["status"]["state"]
        if state == "ready":
            return
        assert state in ("initializing", "updating") and time.monotonic() < deadline, details
        time.sleep(0.05)


def new_job(world: World) -> str:
    frame, _ = training_data(rows=3, seed=5)
    body = {
        "name": "job",
        "deployment": {"id": world.ids["batch_id"]},
        "space_id": world.ids["space_id"],
        "scoring": {"input_data": [{"fields": FEATURES, "values": frame.to_numpy().tolist()}]},
    }
    job_id: str = world.ok("POST", "/ml/v4/deployment_jobs", 202, params=V, json=body)["metadata"]["id"]
    return job_id


def new_asset(world: World, content: bytes) -> tuple[str, str]:
    params = {**V, "space_id": world.ids["space_id"]}
    meta = {"name": "rows.csv", "asset_type": "data_asset", "origin_country": "us", "asset_category": "USER"}
    body = {"metadata": meta, "entity": {"data_asset": {"mime_type": "text/csv"}}}
    asset_id: str = world.ok("POST", "/v2/assets", 201, params=params, json=body)["metadata"]["asset_id"]
    attachment = world.ok(
        "POST",
        f"/v2/assets/{asset_id}/attachments",
        201,
        params=params,
        json={"asset_type": "data_asset", "name": "rows.csv", "mime": "text/csv"},
    )
    put = world.client.put(attachment["url1"], data=content, timeout=REQUEST_TIMEOUT)
    assert put.status_code == 201, put.text
    attachment_id: str = attachment["attachment_id"]
    world.ok("POST", f"/v2/assets/{asset_id}/attachments/{attachment_id}/complete", 200, params=params)
    return asset_id, attachment_id


def new_space(world: World, name: str) -> str:
    space_id: str = world.ok("POST", "/v2/spaces", 202, json={"name": name})["metadata"]["id"]
    return space_id


def rows_csv(rows: int = 5) -> bytes:
    frame, _ = training_data(rows=rows, seed=4)
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return buffer.getvalue().encode()


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, model_files: ModelFiles, module_database: str | None
) -> Iterator[World]:
    home = tmp_path_factory.mktemp("fuzz-home")
    settings = Settings(
        home=home,
        database_url=module_database,
        max_upload_bytes=2_000_000,
        max_request_bytes=256 * 1024,
        load_timeout_seconds=30,
    )
    context = open_context(settings)
    with context.sessions() as session:
        alice = users.create_user(session, name="alice")
        key = users.issue_key(session, user_id=alice.id).secret
        bob = users.create_user(session, name="bob")
    app = create_app(context=context)
    # Entering the client starts the app's lifespan in schemathesis's event loop; every case's call
    # then reaches that same running app.
    with asgi.get_client(app) as client:
        world = World(app, client, context, key, model_files.classifier_named.read_bytes())
        ids = world.ids
        ids["space_id"] = new_space(world, "fuzz")
        ids["user_id"] = bob.id
        ids["alice"] = alice.id
        world.ok(
            "POST",
            f"/v2/spaces/{ids['space_id']}/members",
            200,
            json={"members": [{"id": bob.id, "type": "user", "role": "editor"}]},
        )
        ids["from_space"] = new_space(world, "source")
        ids["model_id"] = new_model(world, world.classifier, name="clf")
        # A second revision, so that rollback and replacements have somewhere to go.
        world.ok("PUT", f"/ml/v4/models/{ids['model_id']}/content", 201, data=world.classifier)
        packages = world.ok("GET", "/api/v2/modelPackages/", 200, params={"modelId": ids["model_id"]})
        ids["package_id"] = packages["data"][0]["id"]
        ids["deployment_id"] = new_deployment(world, ids["model_id"], serving_name="fuzzed")
        ids["batch_id"] = new_deployment(world, ids["model_id"], online=None, batch={}, hardware_spec={"name": "S"})
        wait_ready(world, ids["deployment_id"])
        wait_ready(world, ids["batch_id"])
        ids["job_id"] = new_job(world)
        ids["asset_id"], ids["attachment_id"] = new_asset(world, rows_csv())
        created = world.call(
            "POST",
            "/api/v2/deployments/fromModelPackage/",
            json={"modelPackageId": ids["package_id"], "label": "from datarobot"},
        )
        assert created.status_code == 202, created.text
        ids["status_id"] = created.headers["location"].rstrip("/").rsplit("/", 1)[-1]
        wait_ready(world, created.json()["id"])
        ids["spec_id"] = CATALOGUE[0].id
        ids["model_name"] = ids["deployment_id"]
        ids["prompt_id"] = "no-such-prompt"
        yield world
    # The lifespan outlives the client (schemathesis keeps it for the process); stop it before the
    # context it uses is closed. A deploy operation left waiting for a deleted deployment would hold
    # the stop for the load timeout (30 s here; finding F6).
    stopping = time.monotonic()
    asgi.shutdown_lifespans()
    context.close()
    assert time.monotonic() - stopping < 10, (
        "the app took the load timeout to stop: an operation outlived its deployment"
    )


@pytest.fixture(scope="module")
def api_schema(world: World) -> BaseSchema:
    schema = schemathesis.openapi.from_dict(document(world.app, features=FEATURES))
    schema.app = world.app  # calls go through the ASGI transport to the running app
    return schema


def operations() -> list[tuple[str, str]]:
    """(method, path) of every operation the document holds, deletions last.

    Read at collection from an app that is never started (building the document touches no
    database), so each operation is a test of its own.
    """
    doc = document(create_app(Settings(home=Path("never-opened"))), features=FEATURES)
    found = [(method.upper(), path) for path, item in doc["paths"].items() for method in item]
    return sorted(found, key=lambda operation: operation[0] == "DELETE")


def keep_generated(value: Any) -> bool:
    """One value in ten keeps what schemathesis generated (a missing or malformed id), decided by
    the value itself so that a failing example replays the same."""
    return hashlib.sha256(repr(value).encode()).digest()[0] % 10 == 0


QUERY_IDS = {
    "space_id": "space_id",
    "from_space": "from_space",
    "deployment_id": "deployment_id",
    "asset_id": "asset_id",
    "modelId": "model_id",
}


def fill(world: World, case: Case) -> None:
    """Swap generated ids for the setup's real ones, mostly; a deletion gets a victim of its own."""
    parameters = case.path_parameters or {}
    real = {
        name: world.ids[name] for name, value in parameters.items() if name in world.ids and not keep_generated(value)
    }
    if case.method.upper() == "DELETE" and real:
        real.update(victim(world, case.path))
    parameters.update(real)
    if isinstance(case.query, dict):
        for name, key in QUERY_IDS.items():
            if name in case.query and not keep_generated(case.query[name]):
                case.query[name] = world.ids[key]


def victim(world: World, path: str) -> dict[str, str]:
    """Something made to be deleted by one call, so deletions leave the shared setup whole."""
    if path == "/v2/spaces/{space_id}":
        return {"space_id": new_space(world, "victim")}
    if path == "/v2/spaces/{space_id}/members/{user_id}":
        space_id = new_space(world, "victim")
        member = {"members": [{"id": world.ids["user_id"], "type": "user", "role": "viewer"}]}
        world.ok("POST", f"/v2/spaces/{space_id}/members", 200, json=member)
        return {"space_id": space_id}
    if path in ("/ml/v4/models/{model_id}", "/v2/assets/{asset_id}"):
        model_id = new_model(world, world.classifier, name="victim")
        return {"model_id": model_id, "asset_id": model_id}
    if path in ("/ml/v4/deployments/{deployment_id}", "/api/v2/deployments/{deployment_id}/"):
        # Deleted while it deploys, as a hasty client may: its deploy operation must end at once, or
        # the app's stop at the end of the module waits out the load timeout (finding F6).
        return {"deployment_id": new_deployment(world, world.ids["model_id"])}
    if path == "/ml/v4/deployment_jobs/{job_id}":
        return {"job_id": new_job(world)}
    if path in (
        "/ml/v4/deployments/{deployment_id}/challengers/{challenger_id}",
        "/api/v2/deployments/{deployment_id}/challengers/{challenger_id}/",
    ):
        # A challenger of the shared deployment (revision 1; it serves revision 2), added for this call
        # after removing any an earlier call left, so its five places never fill.
        url = f"/ml/v4/deployments/{world.ids['deployment_id']}/challengers"
        params = {"space_id": world.ids["space_id"]}
        for resource in world.ok("GET", url, 200, params=params)["resources"]:
            world.ok("DELETE", f"{url}/{resource['metadata']['id']}", 204, params=params)
        body = {"asset": {"id": world.ids["model_id"], "rev": "1"}}
        return {"challenger_id": world.ok("POST", url, 201, params=params, json=body)["metadata"]["id"]}
    raise AssertionError(f"no victim for DELETE {path}: add one so the deletion does not eat the setup")


@pytest.fixture(scope="module")
def tally(world: World) -> Iterator[None]:
    started = time.monotonic()
    yield
    statuses = dict(sorted(world.statuses.items()))
    backend = "postgres" if world.context.settings.database_url else "sqlite"
    SUMMARY.append(
        f"schemathesis ({backend}): {world.requests} requests in {time.monotonic() - started:.1f} s"
        f" ({EXAMPLES} examples per operation); statuses {statuses}"
    )


def test_the_document_holds_every_api_route() -> None:
    """A route added to an API face, a plain Starlette one included, is fuzzed or this fails:
    add its path item to tests/fuzz/openapi.py."""
    app = create_app(Settings(home=Path("never-opened")))
    described = {
        (method.upper(), path) for path, item in document(app, features=FEATURES)["paths"].items() for method in item
    }
    api = {(method, path) for method, path in routes(TestClient(app)) if not is_ui(path)}
    assert sorted(api - described) == []


@pytest.mark.usefixtures("tally")
@pytest.mark.parametrize(("method", "path"), operations(), ids=lambda value: str(value))
def test_no_server_error_and_nothing_outside_the_document(
    method: str, path: str, world: World, api_schema: BaseSchema
) -> None:
    operation = api_schema[path][method]
    strategy = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))
    headers = {"Authorization": f"Bearer {world.key}"}

    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=DETERMINISTIC,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: Case) -> None:
        fill(world, case)
        response = case.call(headers=headers, timeout=REQUEST_TIMEOUT)
        world.requests += 1
        world.statuses[response.status_code] = world.statuses.get(response.status_code, 0) + 1
        case.validate_response(response, checks=CHECKS, headers=headers)

    fuzz()
