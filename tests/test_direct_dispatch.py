"""DirectDispatchApp answers fixed paths as Starlette's middleware stack would, without it."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

from tokensmith.app import create_app
from tokensmith.direct_dispatch import DirectDispatchApp
from tokensmith.routing import ExactPathRouter


class Refused(Exception):
    pass


class RefusedHarder(Refused):
    pass


async def ok(request: Request) -> Response:
    route = request.scope["route"].path
    return PlainTextResponse(f"ok {route} {request.scope['endpoint'].__name__}")


async def refused(_request: Request) -> Response:
    raise RefusedHarder("no")


async def missing(_request: Request) -> Response:
    raise HTTPException(404, "not here")


async def teapot(_request: Request) -> Response:
    raise HTTPException(418, "short and stout")


async def broken(_request: Request) -> Response:
    raise ValueError("a bug")


def failing_task() -> None:
    raise RuntimeError("after the answer")


async def late_failure(_request: Request) -> Response:
    return PlainTextResponse("sent", background=BackgroundTask(failing_task))


async def echo(request: Request) -> Response:
    return PlainTextResponse(f"got {len(await request.body())} bytes")


async def missing_file(_request: Request) -> Response:
    return FileResponse("/nonexistent/file")


class RefusingResponse(Response):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise Refused("before anything was sent")


async def refusing_response(_request: Request) -> Response:
    return RefusingResponse()


async def item(request: Request) -> Response:
    return PlainTextResponse(f"item {request.path_params['item_id']}")


def sync_endpoint(_request: Request) -> Response:
    return PlainTextResponse("from a thread")


async def failing_handler(_request: Request, _exc: Exception) -> Response:
    raise KeyError("a bug in a handler")


async def on_refused(_request: Request, exc: Exception) -> Response:
    return JSONResponse({"error": type(exc).__name__}, status_code=400)


async def on_not_found(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return JSONResponse({"missing": exc.detail}, status_code=404)


async def on_bug(_request: Request, _exc: Exception) -> Response:
    return JSONResponse({"error": "server_error"}, status_code=500)


ROUTES = [
    Route("/ok", ok, methods=["GET", "POST"]),
    Route("/refused", refused),
    Route("/missing", missing),
    Route("/teapot", teapot),
    Route("/broken", broken),
    Route("/late", late_failure),
    Route("/items/{item_id}", item),
    Route("/sync", sync_endpoint),
    Route("/echo", echo, methods=["POST"]),
    Route("/missing_file", missing_file),
    Route("/refusing_response", refusing_response),
]
HANDLERS = {Refused: on_refused, 404: on_not_found, Exception: on_bug}
REQUESTS = [
    ("GET", "/ok"),
    ("HEAD", "/ok"),
    ("POST", "/ok"),
    ("PUT", "/ok"),  # 405
    ("GET", "/refused"),
    ("GET", "/missing"),
    ("GET", "/teapot"),
    ("GET", "/broken"),
    ("GET", "/late"),
    ("GET", "/items/7"),
    ("GET", "/sync"),
    ("GET", "/nowhere"),  # 404 from the router
    ("POST", "/echo"),
    ("GET", "/missing_file"),  # fails in the response, before it starts: the 500 handler
    ("GET", "/refusing_response"),  # the same with a registered exception: its handler
]


def build(app_class: type[Starlette], **options: object) -> Starlette:
    app = app_class(exception_handlers=HANDLERS, **options)  # type: ignore[arg-type]
    app.router = ExactPathRouter(ROUTES)
    return app


def answers(app: Starlette) -> list[tuple[int, str, str | None, str | None]]:
    client = TestClient(app, raise_server_exceptions=False)
    results = []
    for method, path in REQUESTS:
        response = client.request(method, path, content=b"x" * 100)
        headers = response.headers
        results.append(
            (response.status_code, response.text, headers.get("allow"), headers.get("x-tagged"))
        )
    return results


def test_the_same_answers_as_starlettes_stack():
    expected = answers(build(Starlette))
    assert answers(build(DirectDispatchApp)) == expected
    assert expected[0] == (200, "ok /ok ok", None, None)
    assert expected[4] == (400, '{"error":"RefusedHarder"}', None, None)
    assert expected[5] == (404, '{"missing":"not here"}', None, None)
    assert expected[6] == (418, "short and stout", None, None)
    assert expected[7] == (500, '{"error":"server_error"}', None, None)
    assert expected[8] == (200, "sent", None, None)
    assert expected[12:] == [
        (200, "got 100 bytes", None, None),
        (500, '{"error":"server_error"}', None, None),
        (400, '{"error":"Refused"}', None, None),
    ]


@pytest.mark.parametrize(
    "options",
    [
        {"max_body_size": 10},
        {"router": {"max_body_size": 10}},
        {"router": {"middleware": [Middleware(lambda app: Tagging(app))]}},
        {"handlers": {Refused: failing_handler}},
    ],
    ids=["app body limit", "router body limit", "router middleware", "failing handler"],
)
def test_the_same_answers_with_limits_router_middleware_or_a_failing_handler(options):
    def configured(app_class: type[Starlette]) -> Starlette:
        handlers = {**HANDLERS, **options.get("handlers", {})}
        app = app_class(exception_handlers=handlers, max_body_size=options.get("max_body_size"))
        app.router = ExactPathRouter(ROUTES, **options.get("router", {}))
        return app

    expected = answers(configured(Starlette))
    assert answers(configured(DirectDispatchApp)) == expected
    assert {answer[0] for answer in expected} & {413, 500}


def count_stack_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    through_stack: list[str] = []
    original = ServerErrorMiddleware.__call__

    async def counted(self: ServerErrorMiddleware, scope: Scope, receive: Receive, send: Send):
        if scope["type"] == "http":
            through_stack.append(scope["path"])
        await original(self, scope, receive, send)

    monkeypatch.setattr(ServerErrorMiddleware, "__call__", counted)
    return through_stack


def test_fixed_async_routes_skip_the_stack_and_the_rest_go_through_it(monkeypatch):
    through_stack = count_stack_calls(monkeypatch)
    client = TestClient(build(DirectDispatchApp), raise_server_exceptions=False)
    for method, path in REQUESTS:
        client.request(method, path)
    # Path parameters, a sync endpoint, a wrong method and an unknown path take Starlette's way.
    assert through_stack == ["/ok", "/items/7", "/sync", "/nowhere"]  # "/ok": the PUT (405)


def test_an_unexpected_error_is_answered_and_still_reaches_the_server():
    client = TestClient(build(DirectDispatchApp))
    with pytest.raises(ValueError, match="a bug"):
        client.get("/broken")
    with pytest.raises(RuntimeError, match="after the answer"):
        client.get("/late")


def test_a_late_failure_reaches_the_500_handler_as_under_starlette():
    heard: list[str] = []

    async def listening(_request: Request, exc: Exception) -> Response:
        heard.append(str(exc))
        return await on_bug(_request, exc)

    for app_class in (Starlette, DirectDispatchApp):
        app = app_class(exception_handlers={**HANDLERS, Exception: listening})
        app.router = ExactPathRouter(ROUTES)
        response = TestClient(app, raise_server_exceptions=False).get("/late")
        assert (response.status_code, response.text) == (200, "sent")
    assert heard == ["after the answer", "after the answer"]


class Tagging:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def tagged(message: dict) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-tagged", b"yes")]
            await send(message)

        await self.app(scope, receive, tagged)


def test_a_subclass_wrapping_the_stack_sees_every_request():
    seen: list[str] = []

    class Traced(DirectDispatchApp):
        def build_middleware_stack(self) -> ASGIApp:
            inner = super().build_middleware_stack()

            async def traced(scope: Scope, receive: Receive, send: Send) -> None:
                seen.append(scope["path"])
                await inner(scope, receive, send)

            return traced

    app = Traced(exception_handlers=HANDLERS)
    app.router = ExactPathRouter(ROUTES)
    assert TestClient(app).get("/ok").text == "ok /ok ok"
    assert seen == ["/ok"]


def test_user_middleware_sees_every_request(monkeypatch):
    through_stack = count_stack_calls(monkeypatch)
    client = TestClient(build(DirectDispatchApp, middleware=[Middleware(Tagging)]))
    assert client.get("/ok").headers["x-tagged"] == "yes"
    assert through_stack == ["/ok"]


def test_a_sync_exception_handler_leaves_every_request_to_starlette(monkeypatch):
    through_stack = count_stack_calls(monkeypatch)

    def sync_handler(_request: Request, _exc: Exception) -> Response:
        return PlainTextResponse("handled in a thread", status_code=400)

    app = DirectDispatchApp(exception_handlers={Refused: sync_handler})
    app.router = ExactPathRouter(ROUTES)
    response = TestClient(app).get("/refused")
    assert (response.status_code, response.text) == (400, "handled in a thread")
    assert through_stack == ["/refused"]


def test_under_a_root_path_starlettes_stack_answers(monkeypatch):
    through_stack = count_stack_calls(monkeypatch)
    client = TestClient(build(DirectDispatchApp), root_path="/auth")
    assert client.get("/auth/ok").text == "ok /ok ok"
    assert through_stack == ["/auth/ok"]


def test_the_servers_token_endpoint_is_answered_directly(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    through_stack = count_stack_calls(monkeypatch)
    with TestClient(create_app()) as client:
        response = client.post("/token", data={"grant_type": "client_credentials"})
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_client"
        assert response.headers["cache-control"] == "no-store"
    assert through_stack == []
