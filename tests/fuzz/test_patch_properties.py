"""JSON Patch documents on deployments and models: all of a patch, or none of it, for ANY patch.

For any patch document — well formed or junk, on allowed paths or not — PATCH answers either 2xx,
and a GET then shows exactly the document RFC 6902 makes of the one read before (with champion's
one documented difference: `replace` of a missing member adds it), or 4xx, and a GET shows the
document unchanged. GET answers 200 afterwards either way. A patch RFC 6902 cannot apply (a
`test` that fails, a `remove` of nothing) must be refused; `move` and `copy` are refused.

`/asset` patches start replacements and are left out, except for one property: an `/asset` patch
naming a revision that does not exist is a 4xx and writes nothing.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import jsonpatch
import jsonpointer
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.test_wml_deployments import deploy, upload_model, wait_until_settled
from tests.api.test_wml_routes import Server, serving
from tests.model_files import ModelFiles

EXAMPLES = int(os.environ.get("CHAMPION_FUZZ_EXAMPLES", "50"))
# As in test_schemathesis.py: `make test` draws the same patches each run, `make fuzz` explores.
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize="CHAMPION_FUZZ_EXAMPLES" not in os.environ,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@dataclass
class Setup:
    server: Server
    space: str
    model: str
    online: str
    batch: str


@pytest.fixture(scope="module")
def setup(
    tmp_path_factory: pytest.TempPathFactory, model_files: ModelFiles, module_database: str | None
) -> Iterator[Setup]:
    home = tmp_path_factory.mktemp("patch-home")
    with serving(home, "alice", "bob", "carol", "mallory", database_url=module_database) as server:
        space: str = server.call("POST", "/v2/spaces", json={"name": "patched"}).json()["metadata"]["id"]
        members = [
            {"id": server.ids["bob"], "type": "user", "role": "editor"},
            {"id": server.ids["carol"], "type": "user", "role": "viewer"},
        ]
        assert server.call("POST", f"/v2/spaces/{space}/members", json={"members": members}).status_code == 200
        model = upload_model(server, space, model_files.classifier_named.read_bytes(), name="patched")
        online = deploy(server, space, model, serving_name="patch_me")["metadata"]["id"]
        batch = deploy(server, space, model, online=None, batch={}, hardware_spec={"name": "S"})["metadata"]["id"]
        for deployment in (online, batch):
            assert wait_until_settled(server, space, deployment)["entity"]["status"]["state"] == "ready"
        yield Setup(server, space, model, online, batch)


# ---- what a GET shows, as the document a patch applies to ----


def deployment_document(body: dict[str, Any]) -> dict[str, Any]:
    """The patchable view of GET /ml/v4/deployments/{id} (deployments/patch.py's DeploymentDocument)."""
    metadata, entity = body["metadata"], body["entity"]
    document: dict[str, Any] = {
        "name": metadata["name"],
        "description": metadata["description"],
        "tags": metadata["tags"],
        "custom": entity["custom"],
        "hardware_spec": entity["hardware_spec"],
        "online": None,
        "metadata": {"owner": metadata["owner"]},
    }
    if "online" in entity:
        # The patch document always holds `serving_name`; a GET leaves it out when there is none.
        parameters = entity["online"].get("parameters", {})
        document["online"] = {"parameters": {"serving_name": parameters.get("serving_name"), **parameters}}
    return document


def same_deployment(document: dict[str, Any]) -> dict[str, Any]:
    """A deployment document as stored: members a patch removed back at their defaults (the document is
    validated by its pydantic model), and no serving name written one way (absent) rather than two."""
    document = same_model(document)
    document.setdefault("hardware_spec", {})
    online = document.get("online")
    if isinstance(online, dict):
        parameters = online.setdefault("parameters", {})
        if isinstance(parameters, dict) and parameters.get("serving_name", ...) is None:
            del parameters["serving_name"]
    return document


def same_model(document: dict[str, Any]) -> dict[str, Any]:
    """A model document as stored: members a patch removed back at their defaults."""
    document = copy.deepcopy(document)
    for member, default in (("description", ""), ("tags", []), ("custom", {})):
        document.setdefault(member, default)
    return document


def model_document(body: dict[str, Any]) -> dict[str, Any]:
    """The patchable view of GET /ml/v4/models/{id} (models/schemas.py's ModelDetails)."""
    metadata, entity = body["metadata"], body["entity"]
    return {
        "name": metadata["name"],
        "description": metadata["description"],
        "tags": metadata["tags"],
        "software_spec": {"id": entity["software_spec"]["id"]},
        "custom": entity["custom"],
    }


def rfc6902(document: dict[str, Any], operations: Any) -> dict[str, Any] | None:
    """The document the patch makes, or None where RFC 6902 (with champion's `replace` of a missing
    member as `add`, and no `move`/`copy`) cannot apply it."""
    if not isinstance(operations, list):
        return None
    result = copy.deepcopy(document)
    for operation in operations:
        if not isinstance(operation, dict) or operation.get("op") not in ("add", "remove", "replace", "test"):
            return None
        path = operation.get("path")
        if not isinstance(path, str) or (operation["op"] != "remove" and "value" not in operation):
            return None
        if operation["op"] == "replace":
            try:
                jsonpointer.resolve_pointer(result, path)
            except jsonpointer.JsonPointerException:
                operation = {**operation, "op": "add"}
        try:
            result = jsonpatch.JsonPatch([operation]).apply(result)
        except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException, TypeError, KeyError):
            return None
    return result


# ---- patch documents ----

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**60), 2**60) | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)
TEXT = st.text(max_size=12) | st.sampled_from(["renamed", "", "x" * 256, "é\u2028\x00"])
OBJECT = st.dictionaries(st.sampled_from(["a", "b", "name", "~x", "/y"]), JSON, max_size=3)
SERVING_NAMES = st.sampled_from(["patch_me", "other_name", "fresh_name", "Not Valid!", "", "a" * 37]) | st.none()


def values_by_path(extra: dict[str, st.SearchStrategy[Any]]) -> dict[str, st.SearchStrategy[Any]]:
    """For each path a patch may name: values that pass the document's rules often enough."""
    return {
        "/name": TEXT,
        "/description": TEXT,
        "/tags": st.lists(TEXT, max_size=3),
        "/tags/0": TEXT,
        "/tags/1": TEXT,
        "/tags/-": TEXT,
        "/tags/7": TEXT,
        "/custom": OBJECT,
        "/custom/a": JSON,
        "/custom/a/b": JSON,
        "/custom/~1y": JSON,
        **extra,
        # Paths no document has, last (Hypothesis draws early entries first): refused whatever the value.
        "": OBJECT,
        "/": JSON,
        "/junk": JSON,
        "name": TEXT,
    }


def deployment_paths(setup: Setup) -> dict[str, st.SearchStrategy[Any]]:
    owners = st.sampled_from([setup.server.ids[name] for name in ("alice", "bob", "carol", "mallory")])
    return values_by_path(
        {
            "/hardware_spec": OBJECT,
            "/hardware_spec/name": TEXT,
            "/online": st.fixed_dictionaries({"parameters": st.fixed_dictionaries({"serving_name": SERVING_NAMES})}),
            "/online/parameters": st.fixed_dictionaries({}, optional={"serving_name": SERVING_NAMES, "extra": JSON}),
            "/online/parameters/serving_name": SERVING_NAMES,
            "/online/parameters/extra": JSON,
            "/metadata": st.fixed_dictionaries({"owner": owners}),
            "/metadata/owner": owners | st.text(max_size=4),
        }
    )


def model_paths() -> dict[str, st.SearchStrategy[Any]]:
    from champion.models.software_specs import CATALOGUE

    specs = st.sampled_from([spec.id for spec in CATALOGUE] + ["no-such-spec"])
    return values_by_path(
        {
            "/software_spec": st.fixed_dictionaries({"id": specs}),
            "/software_spec/id": specs,
            "/software_spec/name": TEXT,
        }
    )


OPS = st.sampled_from(["add", "remove", "replace", "test", "move", "copy"]) | st.text(max_size=6)
# What RFC 6902 defines, `add` and `replace` most (they change something), `test` least (it mostly fails).
SUPPORTED_OPS = st.sampled_from(["add", "replace", "add", "replace", "remove", "test"])
JUNK_PATHS = st.text(max_size=12).filter(lambda path: not path.startswith("/asset"))


def fitting_patches(paths: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Operations RFC 6902 defines, on the document's own paths, with values that often pass its rules."""

    def operation(op: str, path: str) -> st.SearchStrategy[dict[str, Any]]:
        if op == "remove":
            return st.just({"op": op, "path": path})
        return st.fixed_dictionaries({"op": st.just(op), "path": st.just(path), "value": paths[path] | JSON})

    known = [path for path in paths if path.startswith("/") and path not in ("/", "/junk")]
    fitting = st.tuples(SUPPORTED_OPS, st.sampled_from(known)).flatmap(lambda pair: operation(*pair))
    # One operation most often: in a longer patch one bad operation refuses all the others.
    return st.lists(fitting, min_size=1, max_size=1) | st.lists(fitting, min_size=2, max_size=3)


def junk_patches(paths: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """Anything: operations of any name and members, paths of any text, bodies that are no patch."""
    anything = st.builds(
        lambda required, optional: {**required, **optional},
        st.fixed_dictionaries({"op": OPS, "path": st.sampled_from(list(paths)) | JUNK_PATHS}),
        st.fixed_dictionaries(
            {}, optional={"value": JSON, "from": st.sampled_from(list(paths)), "extra": st.integers()}
        ),
    )
    mixed = st.lists(anything | fitting_patches(paths).map(lambda patch: patch[0]), min_size=1, max_size=3)
    return st.one_of(mixed, JSON, st.lists(JSON, max_size=3), st.just([]))


PATCHES = {"fitting": fitting_patches, "junk": junk_patches}


# ---- the properties ----

JSON_TYPE = {"Content-Type": "application/json"}


def check_all_or_nothing(
    setup: Setup,
    url: str,
    view: Callable[[dict[str, Any]], dict[str, Any]],
    patch: Any,
    same: Callable[[dict[str, Any]], dict[str, Any]],
) -> None:
    server, params = setup.server, {"space_id": setup.space}
    before = server.call("GET", url, params=params)
    assert before.status_code == 200, before.text
    document = view(before.json())
    # Python's encoder, not the client's: it writes NaN and Infinity, which the server must refuse.
    body = json.dumps(patch).encode()
    answer = server.call("PATCH", url, params=params, content=body, headers=JSON_TYPE)
    after = server.call("GET", url, params=params)
    assert after.status_code == 200, f"GET after PATCH {patch!r} -> {after.status_code} {after.text}"
    assert answer.status_code < 500, f"PATCH {patch!r} -> {answer.status_code} {answer.text}"
    expected = rfc6902(document, patch)
    if 200 <= answer.status_code < 300:
        assert expected is not None, f"PATCH {patch!r} was accepted, but RFC 6902 cannot apply it"
        assert same(view(after.json())) == same(expected), (
            f"PATCH {patch!r} answered {answer.status_code} but was not applied whole"
        )
    else:
        assert 400 <= answer.status_code < 500, f"PATCH {patch!r} -> {answer.status_code} {answer.text}"
        assert view(after.json()) == document, f"PATCH {patch!r} was refused ({answer.status_code}) but wrote"


@pytest.mark.parametrize("kind", list(PATCHES))
def test_a_deployment_patch_is_applied_whole_or_not_at_all(setup: Setup, kind: str) -> None:
    @SETTINGS
    @given(
        deployment=st.sampled_from([setup.online, setup.batch]),
        patch=PATCHES[kind](deployment_paths(setup)),
    )
    def prop(deployment: str, patch: Any) -> None:
        url = f"/ml/v4/deployments/{deployment}"
        check_all_or_nothing(setup, url, deployment_document, patch, same_deployment)

    prop()


@pytest.mark.parametrize("kind", list(PATCHES))
def test_a_model_patch_is_applied_whole_or_not_at_all(setup: Setup, kind: str) -> None:
    @SETTINGS
    @given(patch=PATCHES[kind](model_paths()))
    def prop(patch: Any) -> None:
        check_all_or_nothing(setup, f"/ml/v4/models/{setup.model}", model_document, patch, same_model)

    prop()


def samples(setup: Setup, target: str) -> dict[str, Any]:
    """One value per path that the document's rules accept, for the sweep below."""
    from champion.models.software_specs import CATALOGUE

    common = {
        "/name": "swept",
        "/description": "words",
        "/tags": ["a", "b"],
        "/tags/0": "first",
        "/tags/-": "last",
        "/custom": {"k": 1},
        "/custom/a": {"b": [1, 2]},
        "/custom/a/b": None,
    }
    if target == "model":
        spec = [s for s in CATALOGUE if s.fits("scikit-learn")][-1].id  # one the model's family may take
        return {**common, "/software_spec": {"id": spec}, "/software_spec/id": spec, "/software_spec/name": "x"}
    return {
        **common,
        "/hardware_spec": {"name": "M"},
        "/hardware_spec/name": "L",
        "/online/parameters": {"serving_name": "swept_name"},
        "/online/parameters/serving_name": "swept_again",
        "/online/parameters/extra": 3,
        "/metadata/owner": setup.server.ids["bob"],
    }


@pytest.mark.parametrize("target", ["online", "batch", "model"])
def test_every_path_with_every_operation_once(setup: Setup, target: str) -> None:
    """A sweep the random draws may miss: each path the document has, with each operation."""
    if target == "model":
        url, view, same = f"/ml/v4/models/{setup.model}", model_document, same_model
    else:
        url, view, same = f"/ml/v4/deployments/{getattr(setup, target)}", deployment_document, same_deployment
    for path, value in samples(setup, target).items():
        for op in ("add", "replace", "test", "remove", "move", "copy"):
            operation = {"op": op, "path": path}
            if op in ("move", "copy"):
                operation["from"] = "/name"
            elif op != "remove":
                operation["value"] = value
            check_all_or_nothing(setup, url, view, [operation], same)


def test_an_asset_patch_naming_no_revision_is_refused_and_writes_nothing(setup: Setup) -> None:
    server, params = setup.server, {"space_id": setup.space}
    url = f"/ml/v4/deployments/{setup.online}"
    history = f"{url}/replacements"

    @SETTINGS
    @given(
        rev=st.one_of(
            st.text(max_size=8).filter(lambda rev: rev.strip() not in ("1", "01", "001")),
            st.integers().filter(lambda rev: rev != 1),
            st.sampled_from(["0", "-1", "2", "99999999999999999999", "1.0", " 1", "1e0", ""]),
            JSON,
        ),
        op=st.sampled_from(["replace", "add"]),
        member=st.sampled_from(["", "/rev"]),
    )
    def prop(rev: Any, op: str, member: str) -> None:
        before = server.call("GET", url, params=params).json()
        replacements = server.call("GET", history, params=params).json()
        value = {"id": setup.model, "rev": rev} if not member else rev
        body = json.dumps([{"op": op, "path": "/asset" + member, "value": value}]).encode()
        answer = server.call("PATCH", url, params=params, content=body, headers=JSON_TYPE)
        assert 400 <= answer.status_code < 500, f"rev {rev!r}: {answer.status_code} {answer.text}"
        after = server.call("GET", url, params=params)
        assert after.status_code == 200
        assert after.json()["entity"] == before["entity"]
        assert after.json()["metadata"]["modified_at"] == before["metadata"]["modified_at"]
        assert server.call("GET", history, params=params).json() == replacements

    prop()
