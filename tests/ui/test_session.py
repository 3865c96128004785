"""The web UI's session rules, on an in-process app: sign-in, expiry, tampering, CSRF, redirects."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from itsdangerous import URLSafeTimedSerializer

from champion.ui import session as sessions
from champion.users import service as users
from tests.api.test_wml_routes import Server, serving
from tests.ui.conftest import csrf_of, sign_in


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("ui-home"), "alice", "bob", "carol") as server:
        yield server


def deployment_name(server: Server, live: dict[str, str]) -> str:
    details = server.call("GET", f"/ml/v4/deployments/{live['deployment']}", params={"space_id": live["space"]})
    name: str = details.json()["metadata"]["name"]
    return name


def test_signing_in_sets_a_signed_httponly_lax_cookie_with_an_expiry(server: Server) -> None:
    response = sign_in(server, "alice")
    assert response.status_code == 303 and response.headers["location"] == "/ui/spaces"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith(sessions.COOKIE + "="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Max-Age=" in cookie
    assert server.keys["alice"] not in cookie
    assert server.client.get("/ui/spaces").status_code == 200


def test_a_wrong_key_is_refused(server: Server) -> None:
    response = sign_in(server, "alice", key="chp_nope.wrong")
    assert response.status_code == 401
    assert "do not match" in response.text
    assert sessions.COOKIE not in response.cookies


def test_an_unknown_user_gets_the_same_answer(server: Server) -> None:
    response = sign_in(server, "nobody", key=server.keys["alice"])
    assert response.status_code == 401 and "do not match" in response.text


def test_another_users_key_is_refused(server: Server) -> None:
    assert sign_in(server, "bob", key=server.keys["alice"]).status_code == 401


def test_sign_in_without_its_form_token_is_refused(server: Server) -> None:
    server.client.cookies.clear()
    data = {"user_name": "alice", "api_key": server.keys["alice"], "csrf_token": "forged"}
    assert server.client.post("/", data=data, follow_redirects=False).status_code == 403


@pytest.mark.parametrize("path", ["/ui/spaces", "/ui/spaces/x", "/ui/deployments/x", "/ui/deployments/x/status"])
def test_no_page_or_fragment_without_a_session(server: Server, path: str) -> None:
    server.client.cookies.clear()
    response = server.client.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/?next=") or response.headers["location"] == "/"


def test_a_tampered_cookie_is_no_session(server: Server, live: dict[str, str]) -> None:
    sign_in(server, "bob")
    value = server.client.cookies[sessions.COOKIE]
    # Claim to be alice with bob's signature: the signature no longer matches.
    forged = URLSafeTimedSerializer("not the server key", salt="champion.ui.session").dumps(
        {"u": server.ids["alice"], "c": "x"}
    )
    for bad in (value[:-2] + ("AA" if not value.endswith("AA") else "BB"), forged):
        server.client.cookies.set(sessions.COOKIE, bad)
        response = server.client.get("/ui/spaces", follow_redirects=False)
        assert response.status_code == 303, bad


def test_an_expired_session_sends_back_to_sign_in(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    sign_in(server, "alice")
    assert server.client.get("/ui/spaces", follow_redirects=False).status_code == 200
    settings = server.context.settings
    monkeypatch.setattr(settings, "token_ttl_seconds", -1)
    response = server.client.get("/ui/spaces", follow_redirects=False)
    assert response.status_code == 303 and "expired=1" in response.headers["location"]
    assert "session has expired" in server.client.get(response.headers["location"]).text


def test_revoking_the_sign_in_key_ends_the_session(server: Server) -> None:
    with server.context.sessions() as db:
        first = users.issue_key(db, user_id=server.ids["alice"], name="ui one")
        other = users.issue_key(db, user_id=server.ids["alice"], name="ui two")
    sign_in(server, "alice", key=first.secret)
    assert server.client.get("/ui/spaces", follow_redirects=False).status_code == 200
    with server.context.sessions() as db:
        users.revoke_key(db, key_id=other.id)
    # Another key's revocation leaves this session alone; its own ends it on the next request.
    assert server.client.get("/ui/spaces", follow_redirects=False).status_code == 200
    with server.context.sessions() as db:
        users.revoke_key(db, key_id=first.id)
    response = server.client.get("/ui/spaces", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/")
    assert server.client.get("/", follow_redirects=False).status_code == 200  # the sign-in form, not a loop


def test_a_deleted_user_has_no_session(tmp_path: Path) -> None:
    with serving(tmp_path, "dave") as server:
        sign_in(server, "dave")
        assert server.client.get("/ui/spaces", follow_redirects=False).status_code == 200
        with server.context.sessions() as db:
            db.delete(users.get_user(db, user_id=server.ids["dave"]))
            db.commit()
        assert server.client.get("/ui/spaces", follow_redirects=False).status_code == 303


@pytest.mark.parametrize("shape", ["no key", "no server session"])
def test_a_cookie_of_an_older_shape_is_no_session(server: Server, shape: str) -> None:
    # Signed with the server's own key, but naming no API key (first shape) or, naming the user and
    # key itself, no server-side session (second shape): sign-out could not have ended either.
    with server.context.sessions() as db:
        key_id = users.list_keys(db, user_id=server.ids["alice"])[0].id
    data = (
        {"u": server.ids["alice"], "c": "x"} if shape == "no key" else {"u": server.ids["alice"], "k": key_id, "c": "x"}
    )
    old = URLSafeTimedSerializer(server.context.signing_key, salt="champion.ui.session").dumps(data)
    server.client.cookies.clear()
    server.client.cookies.set(sessions.COOKIE, old)
    assert server.client.get("/ui/spaces", follow_redirects=False).status_code == 303


def test_a_change_without_the_csrf_token_is_refused_and_changes_nothing(server: Server, live: dict[str, str]) -> None:
    sign_in(server, "alice")
    before = deployment_name(server, live)
    url = f"/ui/deployments/{live['deployment']}/edit"
    for token in (None, "wrong-token"):
        data: dict[str, Any] = {"name": "renamed", "description": "", "tags": ""}
        if token is not None:
            data["csrf_token"] = token
        assert server.client.post(url, data=data, follow_redirects=False).status_code == 403
    assert deployment_name(server, live) == before
    # A token from another session does not work either.
    stale = csrf_of(server, f"/ui/deployments/{live['deployment']}")
    sign_in(server, "alice")
    data = {"name": "renamed", "description": "", "tags": "", "csrf_token": stale}
    assert server.client.post(url, data=data, follow_redirects=False).status_code == 403
    assert deployment_name(server, live) == before


def test_a_change_with_the_token_goes_through_the_patch_service(server: Server, live: dict[str, str]) -> None:
    sign_in(server, "alice")
    token = csrf_of(server, f"/ui/deployments/{live['deployment']}")
    url = f"/ui/deployments/{live['deployment']}/edit"
    bad = server.client.post(url, data={"name": "", "description": "", "tags": "", "csrf_token": token})
    assert bad.status_code == 400 and 'id="config-name-error">' in bad.text and "at least 1 character" in bad.text
    data = {"name": "churn-ui", "description": "from the UI", "tags": "a, b,,c ", "csrf_token": token}
    assert server.client.post(url, data=data, follow_redirects=False).status_code == 303
    details = server.call("GET", f"/ml/v4/deployments/{live['deployment']}", params={"space_id": live["space"]})
    metadata = details.json()["metadata"]
    assert (metadata["name"], metadata["description"], metadata["tags"]) == ("churn-ui", "from the UI", ["a", "b", "c"])


def sign_out(server: Server) -> None:
    token = csrf_of(server, "/ui/spaces")
    response = server.client.post("/ui/sign-out", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303


def test_sign_out_ends_the_session(server: Server) -> None:
    sign_in(server, "alice")
    sign_out(server)
    assert server.client.get("/ui/spaces", follow_redirects=False).status_code == 303


def test_a_cookie_kept_from_before_sign_out_opens_nothing(server: Server) -> None:
    """Sign-out ends the session on the server: replaying the old cookie sends back to sign-in."""
    sign_in(server, "alice")
    kept = server.client.cookies[sessions.COOKIE]
    sign_out(server)
    server.client.cookies.set(sessions.COOKIE, kept)
    response = server.client.get("/ui/spaces", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].split("?")[0] == "/"
    changed = server.client.post("/ui/sign-out", headers={"x-csrf-token": "x"}, follow_redirects=False)
    assert changed.status_code == 303 and changed.headers["location"].split("?")[0] == "/"


def test_signing_out_ends_only_that_session(server: Server) -> None:
    sign_in(server, "alice")
    other_browser = server.client.cookies[sessions.COOKIE]
    sign_in(server, "alice")
    sign_out(server)
    server.client.cookies.set(sessions.COOKIE, other_browser)
    assert server.client.get("/ui/spaces", follow_redirects=False).status_code == 200


def test_a_non_member_gets_404(server: Server, live: dict[str, str]) -> None:
    sign_in(server, "carol")
    assert server.client.get(f"/ui/spaces/{live['space']}").status_code == 404
    assert server.client.get(f"/ui/deployments/{live['deployment']}").status_code == 404
    assert server.client.get(f"/ui/deployments/{live['deployment']}/replace").status_code == 404


def test_a_viewer_sees_the_pages_with_changes_disabled(server: Server, live: dict[str, str]) -> None:
    sign_in(server, "bob")
    space = server.client.get(f"/ui/spaces/{live['space']}")
    assert space.status_code == 200 and 'aria-disabled="true"' in space.text
    assert "Needs the editor role in this space; you are a viewer." in space.text
    sheet = server.client.get(f"/ui/deployments/{live['deployment']}")
    assert sheet.status_code == 200
    token = csrf_of(server, f"/ui/deployments/{live['deployment']}")
    before = deployment_name(server, live)
    data = {"field": "name", "value": "viewer-was-here", "csrf_token": token}
    response = server.client.post(f"/ui/deployments/{live['deployment']}/details", data=data)
    assert response.status_code == 403 and "a viewer cannot change a deployment" in response.text
    assert deployment_name(server, live) == before


def test_static_files_are_served_without_a_session(server: Server) -> None:
    server.client.cookies.clear()
    assert server.client.get("/ui/static/ui.js").status_code == 200
    assert server.client.get("/ui/static/nope.js").status_code == 404
