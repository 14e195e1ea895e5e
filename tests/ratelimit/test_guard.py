"""Rate limits in front of the real app: 429 + Retry-After, per client and per address."""

from __future__ import annotations

import logging

import orjson
import pytest
from starlette.routing import Route

from tests.conftest import CLIENT_ID, CLIENT_SECRET
from tests.grants.test_ciba import OTHER, POLL, backchannel, config
from tests.grants.test_device_code import CONFIG as DEVICE_CONFIG
from tests.helpers import assert_oauth_error, basic_auth
from tests.oidc import OIDC_CONFIG, authorize_params
from tests.ratelimit.windows import within_one_window
from tokensmith.ratelimit.routes import LIMITED_ROUTES, limit_routes
from tokensmith.stores.sql.engine import create_engine

HOUR = 3600
CC = {"grant_type": "client_credentials"}


def token_by_basic(client):
    return client.post("/token", data=CC, headers=basic_auth(CLIENT_ID, CLIENT_SECRET))


def token_by_post(client):
    data = {**CC, "client_id": "post-client", "client_secret": "post-secret"}
    return client.post("/token", data=data)


def assert_retry_after(response, window=HOUR):
    assert 1 <= int(response.headers["retry-after"]) <= window


def test_a_client_over_its_limit_gets_429_and_another_client_is_unaffected(make_client):
    def burst():
        client = make_client(rate_limits={"token_per_client": "3/hour"})
        return [token_by_basic(client) for _ in range(4)], [token_by_post(client) for _ in range(3)]

    bursting, other = within_one_window(HOUR, burst)
    assert [r.status_code for r in bursting] == [200, 200, 200, 429]
    body = assert_oauth_error(bursting[-1], "too_many_requests", 429)
    assert body["error_description"].startswith("too many requests; retry after ")
    assert_retry_after(bursting[-1])
    assert bursting[-1].headers["pragma"] == "no-cache"
    assert [r.status_code for r in other] == [200, 200, 200]


def test_client_id_posted_in_the_form_is_counted_and_still_reaches_the_endpoint(make_client):
    def burst():
        client = make_client(rate_limits={"token_per_client": "2/hour"})
        return [token_by_post(client) for _ in range(3)], token_by_basic(client)

    posted, basic = within_one_window(HOUR, burst)
    # The first two prove the endpoint still reads the form the limiter read.
    assert [r.status_code for r in posted] == [200, 200, 429]
    assert "access_token" in posted[0].json()
    assert basic.status_code == 200


def test_malformed_bodies_still_get_their_own_error_not_a_500(make_client):
    client = make_client(rate_limits={"token_per_client": "100/hour"})
    as_json = client.post(
        "/token", content=b'{"client_id": "x"}', headers={"content-type": "application/json"}
    )
    assert_oauth_error(as_json, "invalid_request", 400)
    too_big = client.post("/token", data={**CC, "client_id": "x" * 70_000})
    assert_oauth_error(too_big, "invalid_request", 413)
    bad_encoding = client.post(
        "/token",
        content=b"grant_type=client_credentials&client_id=%ff%fe",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert_oauth_error(bad_encoding, "invalid_request", 400)


def test_the_per_address_limit_counts_every_client_from_one_address(make_client):
    def burst():
        client = make_client(rate_limits={"token_per_address": "2/hour"})
        return [token_by_basic(client), token_by_post(client), token_by_post(client)]

    responses = within_one_window(HOUR, burst)
    assert [r.status_code for r in responses] == [200, 200, 429]
    assert_oauth_error(responses[-1], "too_many_requests", 429)


def test_login_posts_over_the_address_limit_get_a_429_page(make_client):
    def burst():
        client = make_client(**OIDC_CONFIG, rate_limits={"login_per_address": "2/hour"})
        form = {"username": "alice", "password": "guess", "action": "login"}
        posts = [client.post("/login", data=form) for _ in range(3)]
        return posts, client.get("/login")

    posts, page = within_one_window(HOUR, burst)
    assert [r.status_code for r in posts] == [400, 400, 429]  # 400: no CSRF token
    refused = posts[-1]
    assert refused.headers["content-type"].startswith("text/html")
    assert refused.headers["cache-control"] == "no-store"
    assert "Wait" in refused.text
    assert_retry_after(refused)
    assert page.status_code != 429  # showing the form is not limited


def test_entering_and_confirming_user_codes_share_one_budget(make_client):
    def burst():
        client = make_client(
            **DEVICE_CONFIG, rate_limits={"device_verification_per_address": "2/hour"}
        )
        form = {"user_code": "BCDF-GHJK"}
        return [
            client.post("/device", data=form),
            client.post("/device/confirm", data=form),
            client.post("/device", data=form),
            client.get("/device"),
        ]

    responses = within_one_window(HOUR, burst)
    assert [r.status_code for r in responses[:3]] == [400, 400, 429]
    assert responses[2].headers["content-type"].startswith("text/html")
    assert responses[3].status_code == 200


def test_authorize_refuses_with_a_page_and_par_with_json(make_client):
    def burst():
        client = make_client(**OIDC_CONFIG, rate_limits={"authorize_per_address": "1/hour"})
        query = {k: v for k, v in authorize_params().items() if not k.startswith("_")}
        pushed = {**query, "client_id": "web-app"}
        auth = basic_auth("web-app", "web-secret")
        return [
            client.get("/authorize", params=query, follow_redirects=False),
            client.get("/authorize", params=query, follow_redirects=False),
            client.post("/par", data=pushed, headers=auth),
            client.post("/par", data=pushed, headers=auth),
        ]

    first, second, par_first, par_second = within_one_window(HOUR, burst)
    assert first.status_code == 303
    assert second.status_code == 429
    assert second.headers["content-type"].startswith("text/html")
    assert par_first.status_code == 201  # /par counts apart from /authorize
    assert_oauth_error(par_second, "too_many_requests", 429)
    assert_retry_after(par_second)


def test_device_authorization_refuses_with_json(make_client):
    def burst():
        client = make_client(
            **DEVICE_CONFIG, rate_limits={"device_authorization_per_address": "1/hour"}
        )
        return [client.post("/device_authorization", data={"client_id": "tv"}) for _ in range(2)]

    first, second = within_one_window(HOUR, burst)
    assert first.status_code == 200, first.text
    assert_oauth_error(second, "too_many_requests", 429)


def test_disabled_rate_limits_never_refuse(make_client):
    client = make_client(rate_limits={"enabled": False, "token_per_client": "1/hour"})
    assert [token_by_basic(client).status_code for _ in range(3)] == [200, 200, 200]


def test_one_audit_line_per_key_and_window_not_per_refusal(make_client, caplog):
    caplog.set_level(logging.INFO, logger="tokensmith.audit")

    def burst():
        caplog.clear()
        client = make_client(rate_limits={"token_per_client": "1/hour"})
        return [token_by_basic(client).status_code for _ in range(4)]

    assert within_one_window(HOUR, burst) == [200, 429, 429, 429]
    events = [orjson.loads(r.getMessage()) for r in caplog.records if r.name == "tokensmith.audit"]
    exceeded = [e for e in events if e["event"] == "rate_limit.exceeded"]
    assert len(exceeded) == 1
    assert exceeded[0] | {"time": 0} == {
        "time": 0,
        "event": "rate_limit.exceeded",
        "outcome": "refused",
        "source_address": "testclient",
        "endpoint": "token",
        "limited_by": "client",
        "client_id": CLIENT_ID,
        "rate": "1/3600s",
    }


def unused_engine():
    """An engine that is never connected: these tests only look at which routes get wrapped."""
    return create_engine("sqlite+aiosqlite:///:memory:")


def test_only_the_listed_routes_are_wrapped(make_settings):
    async def endpoint(request):
        raise AssertionError("not called")

    routes = [
        Route("/token", endpoint, methods=["POST"]),
        Route("/login", endpoint, methods=["GET"]),
        Route("/introspect", endpoint, methods=["POST"]),
    ]
    settings = make_settings(rate_limits={"token_per_client": "5/second"})
    wrapped = limit_routes(routes, settings, None, unused_engine())
    assert wrapped[0].endpoint is not endpoint
    assert wrapped[0].methods == {"POST"}
    assert wrapped[1] is routes[1]
    assert wrapped[2] is routes[2]
    assert {path for path, _ in LIMITED_ROUTES} == {
        "/token",
        "/par",
        "/authorize",
        "/device_authorization",
        "/backchannel",
        "/login",
        "/device",
        "/device/confirm",
    }


@pytest.mark.parametrize("path", ["/token", "/login"])
def test_an_endpoint_with_no_limit_configured_is_left_as_it_is(make_settings, path):
    async def endpoint(request):
        raise AssertionError("not called")

    route = Route(path, endpoint, methods=["POST"])
    settings = make_settings(rate_limits={"login_per_address": "off"})
    assert limit_routes([route], settings, None, unused_engine())[0].endpoint is endpoint


def test_backchannel_counts_per_client(make_client):
    def burst():
        client = make_client(**config(), rate_limits={"backchannel_per_client": "1/hour"})
        return backchannel(client, POLL), backchannel(client, POLL), backchannel(client, OTHER)

    first, second, other = within_one_window(HOUR, burst)
    assert first.status_code == 200, first.text
    assert_oauth_error(second, "too_many_requests", 429)
    assert other.status_code == 200
