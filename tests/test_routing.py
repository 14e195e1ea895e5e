"""ExactPathRouter answers exactly as Starlette's router would, with fixed paths found by lookup."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route, Router
from starlette.testclient import TestClient

from tokensmith.routing import ExactPathRouter


def answer(text: str):
    async def endpoint(request: Request) -> PlainTextResponse:
        params = ",".join(f"{k}={v}" for k, v in request.path_params.items())
        route = request.scope["route"].path
        return PlainTextResponse(f"{text} {route} {params}".strip())

    return endpoint


ROUTES = [
    Route("/token", answer("first"), methods=["POST"]),
    Route("/token", answer("second"), methods=["POST"]),  # never reached: first listed wins
    Route("/page", answer("get"), methods=["GET"]),
    Route("/page", answer("post"), methods=["POST"]),
    Route("/items/{item_id}", answer("item"), methods=["GET"]),
    Route("/items/{item_id}/approve", answer("approve"), methods=["POST"]),
]


def client(router_class: type) -> TestClient:
    app = Starlette()
    app.router = router_class(ROUTES)
    return TestClient(app)


def outcomes(test_client: TestClient) -> list[tuple[int, str]]:
    requests = [
        ("POST", "/token"),
        ("GET", "/token"),  # 405
        ("GET", "/page"),
        ("HEAD", "/page"),
        ("POST", "/page"),
        ("PUT", "/page"),  # 405
        ("GET", "/items/42"),
        ("POST", "/items/42/approve"),
        ("GET", "/items/42/approve"),  # 405
        ("GET", "/missing"),  # 404
    ]
    results = []
    for method, path in requests:
        response = test_client.request(method, path, follow_redirects=False)
        results.append((response.status_code, response.text))
    return results


def test_the_same_answers_as_starlettes_router():
    expected = outcomes(client(Router))
    assert outcomes(client(ExactPathRouter)) == expected
    assert expected[0] == (200, "first /token")
    assert expected[1][0] == 405
    assert expected[3][0] == 200  # HEAD comes with GET
    assert expected[6] == (200, "item /items/{item_id} item_id=42")


def test_fixed_paths_do_not_walk_the_route_list(monkeypatch):
    test_client = client(ExactPathRouter)
    calls = []
    original = Route.matches
    monkeypatch.setattr(
        Route, "matches", lambda self, scope: calls.append(1) or original(self, scope)
    )
    assert test_client.post("/token").text == "first /token"
    assert calls == []
    assert test_client.get("/items/7").status_code == 200
    assert calls


def test_under_a_root_path_starlettes_matching_decides():
    app = Starlette()
    app.router = ExactPathRouter(ROUTES)
    mounted = TestClient(app, root_path="/auth")
    assert mounted.post("/auth/token").text == "first /token"
    assert mounted.get("/auth/items/3").text == "item /items/{item_id} item_id=3"
