"""Who may call what: ONE table of every route of the app against every kind of credential.

The routes come from the app itself (the same walk as tests/api/test_authentication.py, through
the included routers, the plain Starlette prediction routes and the web UI), so a route added
without a row here fails the test, and so does a row whose route is gone.

Each route is called with real ids (a space with an admin, an editor and a viewer, a model with
content, ready online and batch deployments, a batch job, a data asset with an attachment, a
DataRobot status) and a body good enough that the answer reflects who is asking, once per
credential. The answer is classed as:

    ok    authorized and done: 2xx or 3xx (for the UI, any but the redirect to sign-in)
    bad   authorized, but the request is refused for what it asks (400, 409, 422...): where the
          body cannot be made valid cheaply (a replacement by the model already serving)
    401   not authenticated (API)
    in    not authenticated (UI): 303 to the sign-in page
    403   authenticated, not allowed
    404   not visible: the caller is no member of the space it lives in

A 5xx is always a failure. Routes that destroy what they name get a victim made for each call, so
the shared setup stays whole for every credential.
"""

from __future__ import annotations

import gc
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from champion.challengers.tables import ChallengerReplay
from champion.models.software_specs import CATALOGUE
from champion.users import service as users
from tests.api.test_authentication import routes
from tests.api.test_wml_deployments import deploy, upload_model, wait_until_settled
from tests.api.test_wml_jobs import upload_asset
from tests.api.test_wml_routes import Server, serving
from tests.model_files import FEATURES, ModelFiles

V = {"version": "2026-10-14"}
SESSION_COOKIE = "champion_session"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"|name="csrf-token" content="([^"]+)"')

CREDENTIALS = (
    "none",  # nothing at all
    "malformed",  # an Authorization header that is no credential; a forged session cookie
    "revoked",  # an API key since revoked (its holder is a space admin); the UI session it opened
    "revoked_jwt",  # a token from /icp4d-api/v1/authorize issued under that key before it was revoked
    "other_face",  # the API given only a UI session cookie; the UI given only an API key
    "outsider",  # a valid key of a user who is a member of no space
    "viewer",
    "editor",
    "admin",  # space admin
    "server_admin",  # the server's admin, a member of no space
)

# The credentials that are a live user's, and whose.
SIGNED_IN = {"outsider": "olivia", "viewer": "carol", "editor": "bob", "admin": "alice", "server_admin": "root"}

# The first five columns, by kind of route.
API = "401 401 401 401 401"  # every route that needs credentials
UI = "in in in in in"  # every UI page that needs a session
OPEN = "ok ok ok ok ok"  # probes, and routes that carry their own credential

# (method, path) -> the class of answer for each credential, in the order of CREDENTIALS:
#                 none malformed revoked revoked_jwt other_face | outsider viewer editor admin server_admin
MATRIX: dict[tuple[str, str], str] = {
    # Probes, and the routes that carry their own credential (the header is not what they read).
    ("GET", "/ml/wml_services/version"): f"{OPEN} ok ok ok ok ok",
    ("GET", "/ml/wml_services/v2/version"): f"{OPEN} ok ok ok ok ok",
    ("GET", "/v2"): f"{OPEN} ok ok ok ok ok",
    ("GET", "/v2/health/live"): f"{OPEN} ok ok ok ok ok",
    ("GET", "/v2/health/ready"): f"{OPEN} ok ok ok ok ok",
    ("POST", "/icp4d-api/v1/authorize"): f"{OPEN} ok ok ok ok ok",  # the body's key signs in
    ("PUT", "/v2/assets/{asset_id}/attachments/{attachment_id}/upload"): f"{OPEN} ok ok ok ok ok",  # URL secret
    # The download URL's token is each caller's own, and dies with the key it was issued under.
    ("GET", "/v2/assets/{asset_id}/attachments/{attachment_id}/content"): "401 401 401 401 401 401 ok ok ok 401",
    # Server-wide: any signed-in user; the meters only for the server's admins.
    ("GET", "/v2/spaces"): f"{API} ok ok ok ok ok",
    ("POST", "/v2/spaces"): f"{API} ok ok ok ok ok",
    ("GET", "/v2/software_specifications"): f"{API} ok ok ok ok ok",
    ("GET", "/v2/software_specifications/{spec_id}"): f"{API} ok ok ok ok ok",
    ("GET", "/wx/v1/prompts/{prompt_id}"): f"{API} 404 404 404 404 404",  # champion has no prompt templates
    ("GET", "/wx/v1-beta/prompts/{prompt_id}"): f"{API} 404 404 404 404 404",
    ("GET", "/metrics"): f"{API} 403 403 403 403 ok",
    # A space: members read, its admins manage it.
    ("GET", "/v2/spaces/{space_id}"): f"{API} 404 ok ok ok 404",
    ("PATCH", "/v2/spaces/{space_id}"): f"{API} 404 403 403 ok 404",
    ("DELETE", "/v2/spaces/{space_id}"): f"{API} 404 403 403 ok 404",
    ("GET", "/v2/spaces/{space_id}/members"): f"{API} 404 ok ok ok 404",
    ("POST", "/v2/spaces/{space_id}/members"): f"{API} 404 403 403 ok 404",
    ("GET", "/v2/spaces/{space_id}/members/{user_id}"): f"{API} 404 ok ok ok 404",
    ("PATCH", "/v2/spaces/{space_id}/members/{user_id}"): f"{API} 404 403 403 ok 404",
    ("DELETE", "/v2/spaces/{space_id}/members/{user_id}"): f"{API} 404 403 403 ok 404",
    ("GET", "/v2/spaces/{space_id}/export"): f"{API} 404 ok ok ok 404",
    ("POST", "/v2/spaces/{space_id}/import"): f"{API} 404 403 ok ok 404",
    # Models and data assets: members read, editors change.
    ("GET", "/ml/v4/models"): f"{API} 404 ok ok ok 404",
    ("POST", "/ml/v4/models"): f"{API} 404 403 ok ok 404",
    ("GET", "/ml/v4/models/{model_id}"): f"{API} 404 ok ok ok 404",
    ("PATCH", "/ml/v4/models/{model_id}"): f"{API} 404 403 ok ok 404",
    ("DELETE", "/ml/v4/models/{model_id}"): f"{API} 404 403 ok ok 404",
    ("PUT", "/ml/v4/models/{model_id}/content"): f"{API} 404 403 ok ok 404",
    ("GET", "/ml/v4/models/{model_id}/revisions"): f"{API} 404 ok ok ok 404",
    ("POST", "/ml/v4/models/{model_id}/revisions"): f"{API} 404 403 ok ok 404",
    ("POST", "/v2/assets"): f"{API} 404 403 ok ok 404",
    ("POST", "/v2/asset_types/data_asset/search"): f"{API} 404 ok ok ok 404",
    ("GET", "/v2/assets/{asset_id}"): f"{API} 404 ok ok ok 404",
    ("DELETE", "/v2/assets/{asset_id}"): f"{API} 404 403 ok ok 404",
    ("POST", "/v2/assets/{asset_id}/attachments"): f"{API} 404 403 ok ok 404",
    ("GET", "/v2/assets/{asset_id}/attachments/{attachment_id}"): f"{API} 404 ok ok ok 404",
    ("POST", "/v2/assets/{asset_id}/attachments/{attachment_id}/complete"): f"{API} 404 ok ok ok 404",
    # Deployments and jobs: members read and score, editors change.
    ("GET", "/ml/v4/deployments"): f"{API} 404 ok ok ok 404",
    ("POST", "/ml/v4/deployments"): f"{API} 404 403 ok ok 404",
    ("GET", "/ml/v4/deployments/{deployment_id}"): f"{API} 404 ok ok ok 404",
    ("PATCH", "/ml/v4/deployments/{deployment_id}"): f"{API} 404 403 ok ok 404",
    ("DELETE", "/ml/v4/deployments/{deployment_id}"): f"{API} 404 403 ok ok 404",
    ("POST", "/ml/v4/deployments/{deployment_id}/predictions"): f"{API} 404 ok ok ok 404",
    ("GET", "/ml/v4/deployments/{deployment_id}/replacements"): f"{API} 404 ok ok ok 404",
    ("POST", "/ml/v4/deployments/{deployment_id}/rollback"): f"{API} 404 403 ok ok 404",
    ("POST", "/ml/v4/deployments/{deployment_id}/validation"): f"{API} 404 ok ok ok 404",
    ("GET", "/ml/v4/deployments/{deployment_id}/settings"): f"{API} 404 ok ok ok 404",
    ("PATCH", "/ml/v4/deployments/{deployment_id}/settings"): f"{API} 404 403 ok ok 404",
    ("POST", "/ml/v4/deployments/{deployment_id}/actuals"): f"{API} 404 403 ok ok 404",
    ("POST", "/ml/v4/deployments/{deployment_id}/monitoring/baseline"): f"{API} 404 403 ok ok 404",
    ("GET", "/ml/v4/deployments/{deployment_id}/monitoring/accuracy"): f"{API} 404 ok ok ok 404",
    ("GET", "/ml/v4/deployments/{deployment_id}/monitoring/service"): f"{API} 404 ok ok ok 404",
    ("GET", "/ml/v4/deployments/{deployment_id}/monitoring/drift"): f"{API} 404 ok ok ok 404",
    # Challengers (champion's extension): members read, editors change, replay and promote.
    ("GET", "/ml/v4/deployments/{deployment_id}/challengers"): f"{API} 404 ok ok ok 404",
    ("POST", "/ml/v4/deployments/{deployment_id}/challengers"): f"{API} 404 403 ok ok 404",
    ("PATCH", "/ml/v4/deployments/{deployment_id}/challengers/{challenger_id}"): f"{API} 404 403 ok ok 404",
    ("DELETE", "/ml/v4/deployments/{deployment_id}/challengers/{challenger_id}"): f"{API} 404 403 ok ok 404",
    ("POST", "/ml/v4/deployments/{deployment_id}/challengers/replay"): f"{API} 404 403 ok ok 404",
    ("POST", "/ml/v4/deployments/{deployment_id}/challengers/{challenger_id}/promote"): f"{API} 404 403 ok ok 404",
    ("GET", "/ml/v4/deployment_jobs"): f"{API} 404 ok ok ok 404",
    ("POST", "/ml/v4/deployment_jobs"): f"{API} 404 403 ok ok 404",
    ("GET", "/ml/v4/deployment_jobs/{job_id}"): f"{API} 404 ok ok ok 404",
    ("DELETE", "/ml/v4/deployment_jobs/{job_id}"): f"{API} 404 403 ok ok 404",
    # Open Inference.
    ("GET", "/v2/models/{model_name}"): f"{API} 404 ok ok ok 404",
    ("GET", "/v2/models/{model_name}/ready"): f"{API} 404 ok ok ok 404",
    ("POST", "/v2/models/{model_name}/infer"): f"{API} 404 ok ok ok 404",
    ("GET", "/v2/models/{model_name}/versions/{model_version}"): f"{API} 404 ok ok ok 404",
    ("GET", "/v2/models/{model_name}/versions/{model_version}/ready"): f"{API} 404 ok ok ok 404",
    ("POST", "/v2/models/{model_name}/versions/{model_version}/infer"): f"{API} 404 ok ok ok 404",
    # DataRobot. A package named in a body that the caller cannot see is a 400 naming the field.
    ("GET", "/api/v2/version/"): f"{API} ok ok ok ok ok",
    ("GET", "/api/v2/deployments/"): f"{API} ok ok ok ok ok",
    ("POST", "/api/v2/deployments/fromModelPackage/"): f"{API} bad 403 ok ok bad",
    ("POST", "/api/v2/deployments/fromLearningModel/"): f"{API} bad 403 ok ok bad",
    ("GET", "/api/v2/deployments/{deployment_id}/"): f"{API} 404 ok ok ok 404",
    ("PATCH", "/api/v2/deployments/{deployment_id}/"): f"{API} 404 403 ok ok 404",
    ("DELETE", "/api/v2/deployments/{deployment_id}/"): f"{API} 404 403 ok ok 404",
    ("PATCH", "/api/v2/deployments/{deployment_id}/status/"): f"{API} 404 403 ok ok 404",
    ("GET", "/api/v2/deployments/{deployment_id}/championModelPackage/"): f"{API} 404 ok ok ok 404",
    ("GET", "/api/v2/deployments/{deployment_id}/modelHistory/"): f"{API} 404 ok ok ok 404",
    ("POST", "/api/v2/deployments/{deployment_id}/model/validation/"): f"{API} 404 ok ok ok 404",
    # Replacing by the model already serving: editors get past authorization to the failed check.
    ("PATCH", "/api/v2/deployments/{deployment_id}/model/"): f"{API} 404 403 bad bad 404",
    ("GET", "/api/v2/deployments/{deployment_id}/settings/"): f"{API} 404 ok ok ok 404",
    ("PATCH", "/api/v2/deployments/{deployment_id}/settings/"): f"{API} 404 403 ok ok 404",
    ("POST", "/api/v2/deployments/{deployment_id}/actuals/fromJSON/"): f"{API} 404 403 ok ok 404",
    ("GET", "/api/v2/deployments/{deployment_id}/accuracy/"): f"{API} 404 ok ok ok 404",
    ("GET", "/api/v2/deployments/{deployment_id}/accuracyOverTime/"): f"{API} 404 ok ok ok 404",
    ("GET", "/api/v2/deployments/{deployment_id}/predictionsVsActualsOverTime/"): f"{API} 404 ok ok ok 404",
    ("GET", "/api/v2/deployments/{deployment_id}/serviceStats/"): f"{API} 404 ok ok ok 404",
    ("GET", "/api/v2/deployments/{deployment_id}/serviceStatsOverTime/"): f"{API} 404 ok ok ok 404",
    ("GET", "/api/v2/deployments/{deployment_id}/featureDrift/"): f"{API} 404 ok ok ok 404",
    ("GET", "/api/v2/deployments/{deployment_id}/targetDrift/"): f"{API} 404 ok ok ok 404",
    ("GET", "/api/v2/deployments/{deployment_id}/predictionsOverTime/"): f"{API} 404 ok ok ok 404",
    ("GET", "/api/v2/deployments/{deployment_id}/challengers/"): f"{API} 404 ok ok ok 404",
    ("POST", "/api/v2/deployments/{deployment_id}/challengers/"): f"{API} 404 403 ok ok 404",
    ("GET", "/api/v2/deployments/{deployment_id}/challengers/{challenger_id}/"): f"{API} 404 ok ok ok 404",
    ("PATCH", "/api/v2/deployments/{deployment_id}/challengers/{challenger_id}/"): f"{API} 404 403 ok ok 404",
    ("DELETE", "/api/v2/deployments/{deployment_id}/challengers/{challenger_id}/"): f"{API} 404 403 ok ok 404",
    ("GET", "/api/v2/deployments/{deployment_id}/challengerReplaySettings/"): f"{API} 404 ok ok ok 404",
    ("PATCH", "/api/v2/deployments/{deployment_id}/challengerReplaySettings/"): f"{API} 404 403 ok ok 404",
    ("POST", "/api/v2/deployments/{deployment_id}/challengerPredictions/"): f"{API} 404 403 ok ok 404",
    ("GET", "/api/v2/deployments/{deployment_id}/challengerStatus/{status_id}/"): f"{API} 404 ok ok ok 404",
    ("GET", "/api/v2/deployments/{deployment_id}/challengerComparison/"): f"{API} 404 ok ok ok 404",
    ("POST", "/api/v2/modelPackages/fromLeaderboard/"): f"{API} bad 403 ok ok bad",
    ("GET", "/api/v2/modelPackages/"): f"{API} ok ok ok ok ok",
    ("GET", "/api/v2/modelPackages/{package_id}/"): f"{API} 404 ok ok ok 404",
    ("GET", "/api/v2/status/{status_id}/"): f"{API} 404 ok ok ok 404",
    ("POST", "/predApi/v1.0/deployments/{deployment_id}/predictions"): f"{API} 404 ok ok ok 404",
    ("POST", "/api/v2/deployments/{deployment_id}/predictions"): f"{API} 404 ok ok ok 404",
    ("POST", "/api/v2/deployments/{deployment_id}/predictions/"): f"{API} 404 ok ok ok 404",
    # The web UI: signing in and its static files are open; every other page needs a session.
    ("GET", "/"): f"{OPEN} ok ok ok ok ok",
    ("POST", "/"): f"{OPEN} ok ok ok ok ok",  # the form's own nonce and key
    ("GET", "/ui/static/{name}"): f"{OPEN} ok ok ok ok ok",
    ("POST", "/ui/sign-out"): f"{UI} ok ok ok ok ok",
    ("GET", "/ui/spaces"): f"{UI} ok ok ok ok ok",
    ("GET", "/ui/spaces/{space_id}"): f"{UI} 404 ok ok ok 404",
    ("POST", "/ui/spaces/{space_id}/import"): f"{UI} 404 403 ok ok 404",
    ("POST", "/ui/spaces/{space_id}/members"): f"{UI} 404 403 403 ok 404",
    ("POST", "/ui/spaces/{space_id}/members/{user_id}/role"): f"{UI} 404 403 403 ok 404",
    ("POST", "/ui/spaces/{space_id}/members/{user_id}/remove"): f"{UI} 404 403 403 ok 404",
    ("GET", "/ui/deployments/{deployment_id}"): f"{UI} 404 ok ok ok 404",
    ("POST", "/ui/deployments/{deployment_id}/details"): f"{UI} 404 403 ok ok 404",
    ("GET", "/ui/deployments/{deployment_id}/edit"): f"{UI} 404 ok ok ok 404",
    ("POST", "/ui/deployments/{deployment_id}/edit"): f"{UI} 404 403 ok ok 404",
    ("GET", "/ui/deployments/{deployment_id}/delete"): f"{UI} 404 ok ok ok 404",
    ("POST", "/ui/deployments/{deployment_id}/delete"): f"{UI} 404 403 ok ok 404",
    ("GET", "/ui/deployments/{deployment_id}/status"): f"{UI} 404 ok ok ok 404",
    ("GET", "/ui/deployments/{deployment_id}/replace"): f"{UI} 404 ok ok ok 404",
    ("POST", "/ui/deployments/{deployment_id}/replace/validate"): f"{UI} 404 ok ok ok 404",
    ("POST", "/ui/deployments/{deployment_id}/replace"): f"{UI} 404 403 ok ok 404",
    ("POST", "/ui/deployments/{deployment_id}/upload"): f"{UI} 404 403 ok ok 404",
    ("GET", "/ui/deployments/{deployment_id}/rollback"): f"{UI} 404 ok ok ok 404",
    ("POST", "/ui/deployments/{deployment_id}/rollback"): f"{UI} 404 403 ok ok 404",
    ("POST", "/ui/deployments/{deployment_id}/predict"): f"{UI} 404 ok ok ok 404",
    ("GET", "/ui/deployments/{deployment_id}/monitoring"): f"{UI} 404 ok ok ok 404",
    # The Monitoring page's challengers: members open the dialogs and watch a replay, editors change.
    ("GET", "/ui/deployments/{deployment_id}/challengers/add"): f"{UI} 404 ok ok ok 404",
    ("POST", "/ui/deployments/{deployment_id}/challengers"): f"{UI} 404 403 ok ok 404",
    ("POST", "/ui/deployments/{deployment_id}/challengers/replay"): f"{UI} 404 403 ok ok 404",
    ("GET", "/ui/deployments/{deployment_id}/challengers/replays/{operation_id}"): f"{UI} 404 ok ok ok 404",
    ("GET", "/ui/deployments/{deployment_id}/challengers/{challenger_id}/remove"): f"{UI} 404 ok ok ok 404",
    ("POST", "/ui/deployments/{deployment_id}/challengers/{challenger_id}/remove"): f"{UI} 404 403 ok ok 404",
}


def expected_row(method: str, path: str) -> dict[str, str]:
    codes = MATRIX[(method, path)].split()
    assert len(codes) == len(CREDENTIALS), f"{method} {path}: {len(codes)} entries for {len(CREDENTIALS)} credentials"
    return dict(zip(CREDENTIALS, codes, strict=True))


@dataclass
class Credential:
    name: str
    api: dict[str, str]  # headers the API face is sent
    ui: dict[str, str]  # headers the UI face is sent (a session cookie, or a key for `other_face`)
    csrf: str = ""  # the session's CSRF token, for the UI's changing forms


@dataclass
class World:
    server: Server
    files: ModelFiles
    ids: dict[str, str] = field(default_factory=dict)
    credentials: dict[str, Credential] = field(default_factory=dict)
    download_tokens: dict[str, str] = field(default_factory=dict)
    archive: bytes = b""  # an export of the (empty) source space, for the UI's import

    def call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.server.call(method, url, **kwargs)


def session_of(server: Server, who: str, key: str) -> tuple[str, str]:
    """Sign `who` in through the form: their session cookie's value and CSRF token."""
    client = server.client
    client.cookies.clear()
    form = client.get("/")
    nonce = CSRF.search(form.text)
    assert nonce, form.text
    signed = client.post("/", data={"user_name": who, "api_key": key, "csrf_token": nonce.group(1) or nonce.group(2)})
    assert signed.status_code in (200, 303), signed.text
    cookie = client.cookies.get(SESSION_COOKIE)
    assert cookie, f"no session cookie for {who}"
    page = client.get("/ui/spaces")
    token = CSRF.search(page.text)
    assert token, page.text
    client.cookies.clear()
    return cookie, token.group(1) or token.group(2)


def cookie_header(value: str) -> dict[str, str]:
    return {"Cookie": f"{SESSION_COOKIE}={value}"}


def team_space(world: World, name: str) -> str:
    """A space of alice's with bob (editor), carol (viewer), dave (admin) and erin (viewer)."""
    ids = world.server.ids
    space: str = world.call("POST", "/v2/spaces", json={"name": name}).json()["metadata"]["id"]
    roles = {"bob": "editor", "carol": "viewer", "dave": "admin", "erin": "viewer"}
    members = [{"id": ids[who], "type": "user", "role": role} for who, role in roles.items()]
    assert world.call("POST", f"/v2/spaces/{space}/members", json={"members": members}).status_code == 200
    return space


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, model_files: ModelFiles) -> Iterator[World]:
    home = tmp_path_factory.mktemp("matrix-home")
    with serving(home, "alice", "bob", "carol", "dave", "erin", "olivia", load_timeout_seconds=30) as server:
        with server.context.sessions() as session:
            root = users.create_user(session, name="root", is_admin=True)
            server.keys["root"] = users.issue_key(session, user_id=root.id).secret
            server.ids["root"] = root.id
            dave_key = users.list_keys(session, user_id=server.ids["dave"])[0].id
        world = World(server, model_files)
        ids = world.ids
        ids["space_id"] = team_space(world, "team")
        ids["source"] = team_space(world, "source")
        ids["user_id"] = server.ids["erin"]
        ids["model_id"] = upload_model(server, ids["space_id"], model_files.classifier_named.read_bytes(), name="clf")
        ids["deployment_id"] = deploy(server, ids["space_id"], ids["model_id"])["metadata"]["id"]
        ids["batch_id"] = deploy(
            server, ids["space_id"], ids["model_id"], online=None, batch={}, hardware_spec={"name": "S"}
        )["metadata"]["id"]
        for deployment in (ids["deployment_id"], ids["batch_id"]):
            assert wait_until_settled(server, ids["space_id"], deployment)["entity"]["status"]["state"] == "ready"
        ids["job_id"] = new_job(world)
        # A deployment with a replacement behind it (revision 1 -> 2), for rollback.
        ids["rolled"] = deploy(server, ids["space_id"], ids["model_id"])["metadata"]["id"]
        second = world.call(
            "PUT", f"/ml/v4/models/{ids['model_id']}/content", content=model_files.classifier_named.read_bytes()
        )
        assert second.status_code == 201, second.text
        assert wait_until_settled(server, ids["space_id"], ids["rolled"])["entity"]["status"]["state"] == "ready"
        replaced = world.call(
            "PATCH",
            f"/ml/v4/deployments/{ids['rolled']}",
            params={"space_id": ids["space_id"]},
            json=[{"op": "replace", "path": "/asset", "value": {"id": ids["model_id"], "rev": "2"}}],
        )
        assert replaced.status_code == 202, replaced.text
        assert wait_until_settled(server, ids["space_id"], ids["rolled"])["entity"]["status"]["state"] == "ready"
        ids["asset_id"] = upload_asset(server, ids["space_id"], "rows.csv", b"x1,x2,x3\n1,2,3\n")
        asset = world.call("GET", f"/v2/assets/{ids['asset_id']}", params={"space_id": ids["space_id"]}).json()
        ids["attachment_id"] = asset["attachments"][0]["id"]
        packages = world.call("GET", "/api/v2/modelPackages/", params={"modelId": ids["model_id"]}).json()["data"]
        ids["package_id"] = packages[0]["id"]
        created = world.call(
            "POST", "/api/v2/deployments/fromModelPackage/", json={"modelPackageId": ids["package_id"], "label": "dr"}
        )
        assert created.status_code == 202, created.text
        ids["status_id"] = created.headers["location"].rstrip("/").rsplit("/", 1)[-1]
        assert wait_until_settled(server, ids["space_id"], created.json()["id"])["entity"]["status"]["state"] == "ready"
        world.archive = world.call("GET", f"/v2/spaces/{ids['source']}/export").content
        ids["spec_id"] = CATALOGUE[0].id
        ids["prompt_id"] = "no-such-prompt"
        ids["name"] = "ui.css"
        ids["model_name"] = ids["deployment_id"]
        ids["model_version"] = f"{ids['model_id']}:1"  # the version the deployment serves

        # Everything a credential of dave's can carry, taken while his key is live; then it is revoked.
        jwt = world.call(
            "POST", "/icp4d-api/v1/authorize", who=None, json={"username": "dave", "api_key": server.keys["dave"]}
        ).json()["token"]
        for who in ("alice", "bob", "carol", "dave", "olivia", "root"):
            world.download_tokens[who] = download_token(world, who)
        sessions = {
            who: session_of(server, who, server.keys[who])
            for who in ("alice", "bob", "carol", "dave", "olivia", "root")
        }
        with server.context.sessions() as session:
            users.revoke_key(session, key_id=dave_key)

        def bearer(secret: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {secret}"}

        creds = [
            Credential("none", {}, {}),
            Credential("malformed", {"Authorization": "Bearer not a credential"}, cookie_header("forged.cookie")),
            Credential("revoked", bearer(server.keys["dave"]), cookie_header(sessions["dave"][0]), sessions["dave"][1]),
            Credential("revoked_jwt", bearer(jwt), cookie_header(sessions["dave"][0]), sessions["dave"][1]),
            Credential("other_face", cookie_header(sessions["alice"][0]), bearer(server.keys["alice"])),
        ]
        for name, who in SIGNED_IN.items():
            cookie, csrf = sessions[who]
            creds.append(Credential(name, bearer(server.keys[who]), cookie_header(cookie), csrf))
        world.credentials = {credential.name: credential for credential in creds}
        yield world


def new_job(world: World) -> str:
    body = {
        "name": "job",
        "deployment": {"id": world.ids["batch_id"]},
        "space_id": world.ids["space_id"],
        "scoring": {"input_data": [{"fields": FEATURES, "values": [[1.0, 2.0, 3.0]]}]},
    }
    created = world.call("POST", "/ml/v4/deployment_jobs", params=V, json=body)
    assert created.status_code == 202, created.text
    job_id: str = created.json()["metadata"]["id"]
    return job_id


def download_token(world: World, who: str) -> str:
    """The token in the download URL `who` is given for the attachment (none if they cannot see it)."""
    ids = world.ids
    answer = world.server.call(
        "GET",
        f"/v2/assets/{ids['asset_id']}/attachments/{ids['attachment_id']}",
        who=who,
        params={"space_id": ids["space_id"]},
    )
    if answer.status_code != 200:
        return "none-given"
    return str(answer.json()["url"]).split("token=", 1)[1]


# ---- what each route is sent: bodies good enough to get past validation, victims for destruction ----

Params = dict[str, str]
Request = Callable[[World, Credential, Params], dict[str, Any]]


def form(**fields: str) -> Request:
    """A UI form: the fields and the session's CSRF token."""
    return lambda world, credential, ids: {"data": {**fields, "csrf_token": credential.csrf}}


def space_query(world: World, credential: Credential, ids: Params) -> dict[str, Any]:
    return {"params": {**V, "space_id": ids["space_id"]}}


def new_model_body(world: World, credential: Credential, ids: Params) -> dict[str, Any]:
    body = {"name": "m", "type": "scikit-learn_1.3", "software_spec": {"id": CATALOGUE[0].id}}
    return {"params": {**V, "space_id": ids["space_id"]}, "json": body}


def model_bytes(world: World, credential: Credential, ids: Params) -> dict[str, Any]:
    return {"params": {"space_id": ids["space_id"]}, "content": world.files.classifier_named.read_bytes()}


def new_deployment_body(world: World, credential: Credential, ids: Params) -> dict[str, Any]:
    body = {"name": "d", "online": {}, "asset": {"id": ids["model_id"]}, "space_id": ids["space_id"]}
    return {"params": V, "json": body}


def new_job_body(world: World, credential: Credential, ids: Params) -> dict[str, Any]:
    scoring = {"input_data": [{"fields": FEATURES, "values": [[1.0, 2.0, 3.0]]}]}
    body = {"name": "j", "deployment": {"id": ids["batch_id"]}, "space_id": ids["space_id"], "scoring": scoring}
    return {"params": V, "json": body}


def new_asset_body(world: World, credential: Credential, ids: Params) -> dict[str, Any]:
    meta = {"name": "a.csv", "asset_type": "data_asset", "origin_country": "us", "asset_category": "USER"}
    return {**space_query(world, credential, ids), "json": {"metadata": meta, "entity": {"data_asset": {}}}}


def rows(world: World, credential: Credential, ids: Params) -> dict[str, Any]:
    return {"params": V, "json": {"input_data": [{"fields": FEATURES, "values": [[1.0, 2.0, 3.0]]}]}}


def records(world: World, credential: Credential, ids: Params) -> dict[str, Any]:
    return {"json": [{"x1": 1.0, "x2": 2.0, "x3": 3.0}]}


def json_body(body: Any, *, space: bool = False) -> Request:
    def request(world: World, credential: Credential, ids: Params) -> dict[str, Any]:
        return {"json": body, **(space_query(world, credential, ids) if space else {})}

    return request


def download(world: World, credential: Credential, ids: Params) -> dict[str, Any]:
    """The download URL carries its own token: the one each user was given (dave's before his key was revoked)."""
    holder = {"revoked": "dave", "revoked_jwt": "dave", **SIGNED_IN}
    token = world.download_tokens.get(holder.get(credential.name, ""), "no-token")
    return {"params": {"token": token}}


def upload(world: World, credential: Credential, ids: Params) -> dict[str, Any]:
    return {"params": {"token": ids["upload_token"]}, "content": b"x1,x2,x3\n1,2,3\n"}


def authorize(world: World, credential: Credential, ids: Params) -> dict[str, Any]:
    return {"json": {"username": "alice", "api_key": world.server.keys["alice"]}}


def ui_upload(world: World, credential: Credential, ids: Params) -> dict[str, Any]:
    return {
        "params": {"into": ids["model_id"]},
        "content": world.files.classifier_named.read_bytes(),
        "headers": {"X-CSRF-Token": credential.csrf},
    }


def ui_import(world: World, credential: Credential, ids: Params) -> dict[str, Any]:
    archive = ("source.tar.gz", world.archive, "application/gzip")
    return {"data": {"csrf_token": credential.csrf}, "files": {"archive": archive}}


def ui_predict(world: World, credential: Credential, ids: Params) -> dict[str, Any]:
    payload = '{"input_data": [{"fields": ["x1", "x2", "x3"], "values": [[1, 2, 3]]}]}'
    return {"data": {"payload": payload, "csrf_token": credential.csrf}}


def sign_in(world: World, credential: Credential, ids: Params) -> dict[str, Any]:
    """The sign-in form with its own nonce (a cookie and the same value in the form), whoever asks."""
    client = world.server.client
    client.cookies.clear()
    page = client.get("/")
    nonce = CSRF.search(page.text)
    assert nonce, page.text
    cookies = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
    client.cookies.clear()
    fields = {
        "user_name": "alice",
        "api_key": world.server.keys["alice"],
        "csrf_token": nonce.group(1) or nonce.group(2),
    }
    return {"data": fields, "headers": {"Cookie": cookies}}


def infer(world: World, credential: Credential, ids: Params) -> dict[str, Any]:
    inputs = [{"name": name, "shape": [1], "datatype": "FP64", "data": [1.0]} for name in FEATURES]
    return {"json": {"inputs": inputs}}


REQUESTS: dict[tuple[str, str], Request] = {
    ("POST", "/icp4d-api/v1/authorize"): authorize,
    ("POST", "/v2/spaces"): json_body({"name": "more"}),
    ("PATCH", "/v2/spaces/{space_id}"): json_body([{"op": "replace", "path": "/description", "value": "d"}]),
    ("POST", "/v2/spaces/{space_id}/members"): lambda world, credential, ids: {
        "json": {"members": [{"id": world.server.ids["erin"], "type": "user", "role": "viewer"}]}
    },
    ("PATCH", "/v2/spaces/{space_id}/members/{user_id}"): json_body(
        [{"op": "replace", "path": "/role", "value": "viewer"}]
    ),
    ("POST", "/ml/v4/models"): new_model_body,
    ("GET", "/ml/v4/models"): space_query,
    ("PATCH", "/ml/v4/models/{model_id}"): json_body([{"op": "replace", "path": "/description", "value": "d"}]),
    ("PUT", "/ml/v4/models/{model_id}/content"): model_bytes,
    ("POST", "/ml/v4/models/{model_id}/revisions"): json_body({}, space=True),
    ("POST", "/v2/assets"): new_asset_body,
    ("POST", "/v2/asset_types/data_asset/search"): json_body({"query": "*:*"}, space=True),
    ("POST", "/v2/assets/{asset_id}/attachments"): json_body({"asset_type": "data_asset", "name": "b.csv"}, space=True),
    ("PUT", "/v2/assets/{asset_id}/attachments/{attachment_id}/upload"): upload,
    ("GET", "/v2/assets/{asset_id}/attachments/{attachment_id}/content"): download,
    ("POST", "/ml/v4/deployments"): new_deployment_body,
    ("GET", "/ml/v4/deployments"): space_query,
    ("PATCH", "/ml/v4/deployments/{deployment_id}"): json_body(
        [{"op": "replace", "path": "/description", "value": "d"}]
    ),
    ("POST", "/ml/v4/deployments/{deployment_id}/rollback"): json_body({}),
    ("POST", "/ml/v4/deployments/{deployment_id}/validation"): lambda world, credential, ids: {
        "json": {"asset": {"id": ids["model_id"]}}
    },
    ("PATCH", "/ml/v4/deployments/{deployment_id}/settings"): json_body({"prediction_intervals": {"enabled": False}}),
    ("POST", "/ml/v4/deployments/{deployment_id}/actuals"): json_body(
        {"actuals": [{"association_id": "matrix-1", "value": 1}]}
    ),
    ("POST", "/ml/v4/deployments/{deployment_id}/monitoring/baseline"): lambda world, credential, ids: {
        "json": {"data_asset_id": ids["asset_id"]}
    },
    ("POST", "/ml/v4/deployment_jobs"): new_job_body,
    ("GET", "/ml/v4/deployment_jobs"): space_query,
    ("POST", "/v2/spaces/{space_id}/import"): lambda world, credential, ids: {"params": {"from_space": ids["source"]}},
    ("POST", "/v2/models/{model_name}/infer"): infer,
    ("POST", "/v2/models/{model_name}/versions/{model_version}/infer"): infer,
    ("POST", "/ml/v4/deployments/{deployment_id}/predictions"): rows,
    ("POST", "/predApi/v1.0/deployments/{deployment_id}/predictions"): records,
    ("POST", "/api/v2/deployments/{deployment_id}/predictions"): records,
    ("POST", "/api/v2/deployments/{deployment_id}/predictions/"): records,
    ("PATCH", "/api/v2/deployments/{deployment_id}/"): json_body({"description": "d"}),
    ("POST", "/api/v2/deployments/fromModelPackage/"): lambda world, credential, ids: {
        "json": {"modelPackageId": ids["package_id"], "label": "more"}
    },
    ("POST", "/api/v2/deployments/fromLearningModel/"): lambda world, credential, ids: {
        "json": {"modelId": ids["package_id"], "label": "more"}
    },
    ("PATCH", "/api/v2/deployments/{deployment_id}/status/"): json_body({"status": "active"}),
    ("POST", "/api/v2/deployments/{deployment_id}/model/validation/"): lambda world, credential, ids: {
        "json": {"modelId": ids["package_id"]}
    },
    ("PATCH", "/api/v2/deployments/{deployment_id}/model/"): lambda world, credential, ids: {
        "json": {"modelPackageId": ids["package_id"], "reason": "OTHER"}
    },
    ("POST", "/api/v2/modelPackages/fromLeaderboard/"): lambda world, credential, ids: {
        "json": {"modelId": ids["model_id"]}
    },
    ("PATCH", "/api/v2/deployments/{deployment_id}/settings/"): json_body({"predictionIntervals": {"enabled": False}}),
    ("POST", "/api/v2/deployments/{deployment_id}/actuals/fromJSON/"): json_body(
        {"data": [{"associationId": "matrix-1", "actualValue": 1}]}
    ),
    ("POST", "/ml/v4/deployments/{deployment_id}/challengers"): lambda world, credential, ids: {
        "params": {"space_id": ids["space_id"]},
        "json": {"asset": {"id": ids["model_id"], "rev": "2"}},
    },
    ("PATCH", "/ml/v4/deployments/{deployment_id}/challengers/{challenger_id}"): json_body(
        [{"op": "replace", "path": "/name", "value": "c"}]
    ),
    ("POST", "/ml/v4/deployments/{deployment_id}/challengers/{challenger_id}/promote"): json_body({"reason": "OTHER"}),
    ("POST", "/api/v2/deployments/{deployment_id}/challengers/"): lambda world, credential, ids: {
        "json": {"modelPackageId": revision_two(world), "name": "c"}
    },
    ("PATCH", "/api/v2/deployments/{deployment_id}/challengers/{challenger_id}/"): json_body({"name": "c"}),
    ("PATCH", "/api/v2/deployments/{deployment_id}/challengerReplaySettings/"): json_body({"enabled": False}),
    ("POST", "/"): sign_in,
    ("POST", "/ui/sign-out"): form(),
    ("POST", "/ui/spaces/{space_id}/import"): ui_import,
    ("POST", "/ui/spaces/{space_id}/members"): form(user_name="erin", role="viewer"),
    ("POST", "/ui/spaces/{space_id}/members/{user_id}/role"): form(role="viewer"),
    ("POST", "/ui/spaces/{space_id}/members/{user_id}/remove"): form(),
    ("POST", "/ui/deployments/{deployment_id}/details"): form(field="description", value="d"),
    ("POST", "/ui/deployments/{deployment_id}/edit"): form(name="dep", description="d", tags=""),
    ("POST", "/ui/deployments/{deployment_id}/delete"): form(),
    ("POST", "/ui/deployments/{deployment_id}/replace/validate"): lambda world, credential, ids: form(
        asset=ids["model_id"], reason="OTHER"
    )(world, credential, ids),
    ("POST", "/ui/deployments/{deployment_id}/replace"): lambda world, credential, ids: form(
        asset=f"{ids['model_id']}:2", reason="OTHER"
    )(world, credential, ids),
    ("POST", "/ui/deployments/{deployment_id}/upload"): ui_upload,
    ("POST", "/ui/deployments/{deployment_id}/rollback"): form(reason="OTHER"),
    ("POST", "/ui/deployments/{deployment_id}/predict"): ui_predict,
    ("POST", "/ui/deployments/{deployment_id}/challengers"): lambda world, credential, ids: form(
        version_id=revision_two(world), name="c"
    )(world, credential, ids),
    ("POST", "/ui/deployments/{deployment_id}/challengers/replay"): form(),
    ("POST", "/ui/deployments/{deployment_id}/challengers/{challenger_id}/remove"): form(),
}


def victim_space(world: World) -> Params:
    return {"space_id": team_space(world, "victim")}


def victim_model(world: World) -> Params:
    model_id = upload_model(world.server, world.ids["space_id"], world.files.classifier_named.read_bytes(), name="v")
    return {"model_id": model_id, "asset_id": model_id}


def victim_deployment(world: World) -> Params:
    # Ready before it is deleted, so the answer is about who asks and not about a deploy under way.
    deployment_id = deploy(world.server, world.ids["space_id"], world.ids["model_id"])["metadata"]["id"]
    wait_until_settled(world.server, world.ids["space_id"], deployment_id)
    return {"deployment_id": deployment_id}


def victim_attachment(world: World) -> Params:
    """A data asset whose attachment is still to be uploaded: the upload URL's secret is one-time."""
    params = {**V, "space_id": world.ids["space_id"]}
    meta = {"name": "u.csv", "asset_type": "data_asset", "origin_country": "us", "asset_category": "USER"}
    created = world.call("POST", "/v2/assets", params=params, json={"metadata": meta, "entity": {"data_asset": {}}})
    asset_id = created.json()["metadata"]["asset_id"]
    attachment = world.call("POST", f"/v2/assets/{asset_id}/attachments", params=params, json={"name": "u.csv"})
    url = attachment.json()["url1"]
    return {
        "asset_id": asset_id,
        "attachment_id": attachment.json()["attachment_id"],
        "upload_token": url.split("token=")[1],
    }


def revision_two(world: World) -> str:
    """The version id (DataRobot's model package) of the model's revision 2: the shared deployment serves 1."""
    if "revision_two" not in world.ids:
        packages = world.call("GET", "/api/v2/modelPackages/", params={"modelId": world.ids["model_id"]}).json()
        world.ids["revision_two"] = next(p["id"] for p in packages["data"] if p["registeredModelVersion"] == 2)
    return world.ids["revision_two"]


def shared_challenger(world: World) -> Params:
    """The shared deployment's challenger (revision 2), added again when an earlier call removed it."""
    url, params = f"/ml/v4/deployments/{world.ids['deployment_id']}/challengers", {"space_id": world.ids["space_id"]}
    found = world.call("GET", url, params=params).json()["resources"]
    if not found:
        added = world.call("POST", url, params=params, json={"asset": {"id": world.ids["model_id"], "rev": "2"}})
        assert added.status_code == 201, added.text
        found = [added.json()]
    return {"challenger_id": found[0]["metadata"]["id"]}


def no_challenger(world: World) -> Params:
    """The shared deployment without challengers, so that adding revision 2 finds its place free."""
    url, params = f"/ml/v4/deployments/{world.ids['deployment_id']}/challengers", {"space_id": world.ids["space_id"]}
    for resource in world.call("GET", url, params=params).json()["resources"]:
        gone = world.call("DELETE", f"{url}/{resource['metadata']['id']}", params=params)
        assert gone.status_code == 204, gone.text
    return {}


def replayable(world: World) -> Params:
    """A challenger to replay through, and no replay running (a second one is refused: 429, 409)."""
    shared_challenger(world)
    deadline = time.monotonic() + 30
    while True:
        with world.server.context.sessions() as session:
            running = session.scalar(
                select(ChallengerReplay.id).where(
                    ChallengerReplay.deployment_id == world.ids["deployment_id"], ChallengerReplay.state == "running"
                )
            )
        if running is None:
            return {}
        assert time.monotonic() < deadline, "the replay never ended"
        time.sleep(0.05)


def victim_challenger(world: World) -> Params:
    """A deployment of its own (serving revision 2) with revision 1 as its challenger: promoting replaces it."""
    deployment_id = victim_deployment(world)["deployment_id"]
    url = f"/ml/v4/deployments/{deployment_id}/challengers"
    body = {"asset": {"id": world.ids["model_id"], "rev": "1"}}
    added = world.call("POST", url, params={"space_id": world.ids["space_id"]}, json=body)
    assert added.status_code == 201, added.text
    return {"deployment_id": deployment_id, "challenger_id": added.json()["metadata"]["id"]}


def shared_replay(world: World) -> Params:
    """A replay of the shared deployment (started once, by alice), for the UI's page that watches one."""
    if "replay_operation" not in world.ids:
        replayable(world)
        started = world.call(
            "POST",
            f"/ml/v4/deployments/{world.ids['deployment_id']}/challengers/replay",
            params={"space_id": world.ids["space_id"]},
        )
        assert started.status_code == 202, started.text
        world.ids["replay_operation"] = started.json()["metadata"]["id"]
    return {"operation_id": world.ids["replay_operation"]}


# Routes that destroy (or one-time consume) what they name: a fresh one for every call.
VICTIMS: dict[tuple[str, str], Callable[[World], Params]] = {
    ("DELETE", "/v2/spaces/{space_id}"): victim_space,
    ("DELETE", "/v2/spaces/{space_id}/members/{user_id}"): victim_space,
    ("POST", "/ui/spaces/{space_id}/members/{user_id}/remove"): victim_space,
    ("DELETE", "/ml/v4/models/{model_id}"): victim_model,
    ("DELETE", "/v2/assets/{asset_id}"): lambda world: {
        "asset_id": upload_asset(world.server, world.ids["space_id"], "gone.csv", b"a\n1\n")
    },
    ("DELETE", "/ml/v4/deployments/{deployment_id}"): victim_deployment,
    ("DELETE", "/api/v2/deployments/{deployment_id}/"): victim_deployment,
    ("POST", "/ui/deployments/{deployment_id}/delete"): victim_deployment,
    # A replacement runs on: each call replaces a deployment of its own.
    ("POST", "/ui/deployments/{deployment_id}/replace"): victim_deployment,
    ("DELETE", "/ml/v4/deployment_jobs/{job_id}"): lambda world: {"job_id": new_job(world)},
    ("PUT", "/v2/assets/{asset_id}/attachments/{attachment_id}/upload"): victim_attachment,
    # A new attachment replaces the asset's: not on the shared one.
    ("POST", "/v2/assets/{asset_id}/attachments"): lambda world: {
        "asset_id": upload_asset(world.server, world.ids["space_id"], "again.csv", b"a\n1\n")
    },
    # Rollback needs a replacement to undo: the deployment that has one, settled before each call.
    ("POST", "/ml/v4/deployments/{deployment_id}/rollback"): lambda world: rolled(world),
    ("GET", "/ui/deployments/{deployment_id}/rollback"): lambda world: rolled(world),
    ("POST", "/ui/deployments/{deployment_id}/rollback"): lambda world: rolled(world),
    # The UI's challengers: the same shared deployment and challenger as the API's.
    ("POST", "/ui/deployments/{deployment_id}/challengers"): no_challenger,
    ("POST", "/ui/deployments/{deployment_id}/challengers/replay"): replayable,
    ("GET", "/ui/deployments/{deployment_id}/challengers/replays/{operation_id}"): shared_replay,
    ("GET", "/ui/deployments/{deployment_id}/challengers/{challenger_id}/remove"): shared_challenger,
    ("POST", "/ui/deployments/{deployment_id}/challengers/{challenger_id}/remove"): shared_challenger,
    # Challengers: the shared deployment's one, there for each call that names it, gone before each that adds it.
    ("PATCH", "/ml/v4/deployments/{deployment_id}/challengers/{challenger_id}"): shared_challenger,
    ("DELETE", "/ml/v4/deployments/{deployment_id}/challengers/{challenger_id}"): shared_challenger,
    ("GET", "/api/v2/deployments/{deployment_id}/challengers/{challenger_id}/"): shared_challenger,
    ("PATCH", "/api/v2/deployments/{deployment_id}/challengers/{challenger_id}/"): shared_challenger,
    ("DELETE", "/api/v2/deployments/{deployment_id}/challengers/{challenger_id}/"): shared_challenger,
    ("GET", "/api/v2/deployments/{deployment_id}/challengerStatus/{status_id}/"): lambda world: {
        "status_id": shared_challenger(world)["challenger_id"]
    },
    ("POST", "/ml/v4/deployments/{deployment_id}/challengers"): no_challenger,
    ("POST", "/api/v2/deployments/{deployment_id}/challengers/"): no_challenger,
    ("POST", "/ml/v4/deployments/{deployment_id}/challengers/replay"): replayable,
    ("POST", "/api/v2/deployments/{deployment_id}/challengerPredictions/"): replayable,
    # Promoting replaces the champion: each call promotes on a deployment of its own.
    ("POST", "/ml/v4/deployments/{deployment_id}/challengers/{challenger_id}/promote"): victim_challenger,
}


def rolled(world: World) -> Params:
    details = wait_until_settled(world.server, world.ids["space_id"], world.ids["rolled"])
    assert details["entity"]["status"]["state"] == "ready", details
    return {"deployment_id": world.ids["rolled"]}


# ---- calling a route as a credential, and classing the answer ----


def is_ui(path: str) -> bool:
    return path == "/" or path.startswith("/ui/")


def url_of(path: str, ids: Params) -> str:
    return re.sub(r"\{([^}]+)\}", lambda match: ids[match.group(1)], path)


def answer(world: World, method: str, path: str, credential: Credential) -> httpx.Response:
    ids = dict(world.ids)
    if (method, path) in VICTIMS:
        ids.update(VICTIMS[(method, path)](world))
    if (method, path) == ("POST", "/ui/sign-out") and credential.name in SIGNED_IN:
        # Signing out ends the session: sign out of a fresh one of the same user, so the shared one lives on.
        cookie, csrf = session_of(
            world.server, SIGNED_IN[credential.name], world.server.keys[SIGNED_IN[credential.name]]
        )
        credential = Credential(credential.name, credential.api, cookie_header(cookie), csrf)
    request = REQUESTS.get((method, path), lambda world, credential, ids: {})(world, credential, ids)
    headers = {**(credential.ui if is_ui(path) else credential.api), **request.pop("headers", {})}
    world.server.client.cookies.clear()
    return world.server.client.request(method, url_of(path, ids), headers=headers, follow_redirects=False, **request)


def verdict(path: str, response: httpx.Response) -> str:
    status = response.status_code
    if status >= 500:
        return f"5xx({status})"
    if is_ui(path) and status == 303 and response.headers["location"].split("?")[0] == "/":
        # Sent to sign in; unless this was signing out, which ends the session cookie as it goes.
        signed_out = f'{SESSION_COOKIE}=""' in response.headers.get("set-cookie", "")
        return "ok" if signed_out else "in"
    if status in (401, 403, 404):
        return str(status)
    return "ok" if status < 400 else "bad"


# ---- the test ----


def order(route: tuple[str, str]) -> tuple[bool, str, str]:
    """Deletions last, though each has a victim: if one ever hits the shared setup, little follows it."""
    method, path = route
    return (method == "DELETE" or path.endswith(("/delete", "/remove", "/sign-out")), path, method)


def test_every_route_answers_each_credential_as_the_table_says(world: World) -> None:
    found = sorted(set(routes(world.server.client)), key=order)
    assert [route for route in found if route not in MATRIX] == [], "a route with no row in MATRIX"
    assert [route for route in MATRIX if route not in found] == [], "a row in MATRIX for no route"
    wrong = []
    for method, path in found:
        expected = expected_row(method, path)
        for name, credential in world.credentials.items():
            response = answer(world, method, path, credential)
            got = verdict(path, response)
            if got == expected[name]:
                continue
            wrong.append(f"{method} {path} [{name}]: expected {expected[name]}, got {got} {response.text[:160]!r}")
    gc.collect()  # an upload left unclosed (a form never closed) surfaces here, in this test
    assert wrong == []
