"""Prediction routes answered ahead of FastAPI's middleware stack: the same answers, errors and
scope as through the stack, a 500 for what they did not expect, and the router's 405 for another method."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from champion.api.hot_path import HotPathApp


async def _echo(request: Request) -> Response:
    return JSONResponse(
        {
            "same_app": request.app is request.scope["app"] and isinstance(request.app, HotPathApp),
            "item": request.path_params["item"],
            "url": str(request.url_for("hot", item="other")),
            "body": (await request.body()).decode(),
            "state": request.app.state.marker,
        }
    )


async def _boom(request: Request) -> Response:
    raise RuntimeError("not expected")


def _app() -> HotPathApp:
    app = HotPathApp(
        hot_routes=[Route("/hot/{item}", _echo, methods=["POST"], name="hot"), Route("/boom", _boom, methods=["POST"])]
    )
    app.state.marker = "kept"

    @app.get("/plain")
    async def plain() -> dict[str, str]:
        return {"through": "the stack"}

    return app


def test_a_hot_route_sees_its_app_path_parameters_router_and_body() -> None:
    with TestClient(_app()) as client:
        response = client.post("/hot/abc", content=b"rows")
    assert response.status_code == 200
    assert response.json() == {
        "same_app": True,
        "item": "abc",
        "url": "http://testserver/hot/other",
        "body": "rows",
        "state": "kept",
    }


def test_an_unexpected_exception_in_a_hot_route_is_answered_500() -> None:
    with TestClient(_app(), raise_server_exceptions=False) as client:
        response = client.post("/boom")
    assert response.status_code == 500
    assert response.text == "Internal Server Error"


def test_an_unexpected_exception_reaches_the_server_as_through_the_stack() -> None:
    # The server logs what the app raises: the middleware answers 500 and raises it on.
    with TestClient(_app(), raise_server_exceptions=True) as client:
        try:
            client.post("/boom")
        except RuntimeError as error:
            assert str(error) == "not expected"
        else:
            raise AssertionError("the exception did not reach the server")


def test_a_hot_path_asked_with_another_method_gets_the_routers_405() -> None:
    with TestClient(_app()) as client:
        response = client.get("/hot/abc")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


def test_other_routes_go_through_the_whole_stack() -> None:
    with TestClient(_app()) as client:
        assert client.get("/plain").json() == {"through": "the stack"}
        assert client.get("/missing").status_code == 404


class _Stamp:
    """A middleware that stamps every response, to see which requests pass it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-stamp", b"1")]
            await send(message)

        await self.app(scope, receive, stamped)


def test_a_middleware_given_to_the_app_runs_for_hot_routes_too() -> None:
    app = _app()
    app.add_middleware(_Stamp)
    with TestClient(app) as client:
        assert client.post("/hot/abc").headers.get("x-stamp") == "1"
        assert client.get("/plain").headers.get("x-stamp") == "1"
