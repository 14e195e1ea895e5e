"""Rate limits on the real server: 429 + Retry-After for the burst, nobody else affected.

Limits are per hour so that a test's burst sits inside one fixed window;
``within_one_window`` reruns the rare burst that straddles a boundary.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx2
import pytest
from cryptography.fernet import Fernet

from tests.conftest import REDIS_URL, delete_redis_keys
from tests.e2e.conftest import RunningServer, start_server
from tests.helpers import assert_oauth_error, basic_auth
from tests.ratelimit.windows import within_one_window

pytestmark = pytest.mark.e2e

HOUR = 3600
CLIENTS = """
[[clients]]
client_id = "bursty"
client_secret = "bursty-secret"
grant_types = ["client_credentials"]
scopes = ["api:read"]

[[clients]]
client_id = "steady"
client_secret = "steady-secret"
token_endpoint_auth_method = "client_secret_post"
grant_types = ["client_credentials"]
scopes = ["api:read"]

[[api_resources]]
audience = "https://api.example.test"
scopes = ["api:read"]
"""
CONFIG = f"""
[rate_limits]
token_per_client = "3/hour"
login_per_address = "3/hour"
{CLIENTS}
"""
CC = {"grant_type": "client_credentials"}


def bursty(server: RunningServer) -> httpx2.Response:
    return httpx2.post(
        f"{server.base_url}/token", data=CC, headers=basic_auth("bursty", "bursty-secret")
    )


def steady(server: RunningServer) -> httpx2.Response:
    data = {**CC, "client_id": "steady", "client_secret": "steady-secret"}
    return httpx2.post(f"{server.base_url}/token", data=data)


def test_a_burst_gets_429_with_retry_after_and_another_client_is_served(server_factory):
    def burst():
        server = server_factory(CONFIG)
        return [bursty(server) for _ in range(5)], [steady(server) for _ in range(3)]

    burst_answers, other_answers = within_one_window(HOUR, burst)
    assert [r.status_code for r in burst_answers] == [200, 200, 200, 429, 429]
    refused = burst_answers[3]
    assert_oauth_error(refused, "too_many_requests", 429)
    assert 1 <= int(refused.headers["retry-after"]) <= HOUR
    assert [r.status_code for r in other_answers] == [200, 200, 200]


def test_login_posts_are_limited_per_source_address(server_factory):
    def burst():
        server = server_factory(CONFIG)
        form = {"username": "alice", "password": "guess", "action": "login"}
        with httpx2.Client(base_url=server.base_url) as browser:
            posts = [browser.post("/login", data=form) for _ in range(4)]
            return posts, browser.get("/login"), steady(server)

    posts, page, token = within_one_window(HOUR, burst)
    assert [r.status_code for r in posts] == [400, 400, 400, 429]  # 400: no CSRF token
    refused = posts[-1]
    assert refused.headers["content-type"].startswith("text/html")
    assert 1 <= int(refused.headers["retry-after"]) <= HOUR
    assert page.status_code == 400  # the form itself is not limited (400: no interaction)
    assert token.status_code == 200  # other endpoints have their own budgets


@pytest.fixture
def redis_prefix():
    prefix = f"ts-test-{uuid.uuid4().hex[:16]}"
    yield prefix
    delete_redis_keys(prefix)


def test_server_processes_share_the_count_through_redis(
    tmp_path: Path, database_url: str | None, redis_prefix: str
):
    # On PostgreSQL both share one database, so they need one key-encryption key.
    config = f"""
key_encryption_key = "{Fernet.generate_key().decode()}"
redis_url = "{REDIS_URL}"
redis_key_prefix = "{redis_prefix}"
[rate_limits]
token_per_client = "4/hour"
{CLIENTS}
"""
    servers = []
    try:
        for name in ("a", "b"):
            workdir = tmp_path / name
            workdir.mkdir()
            (workdir / "tokensmith.toml").write_text(config)
            args = ["--config", str(workdir / "tokensmith.toml")]
            servers.append(start_server(workdir, args, database_url=database_url))
        a, b = servers

        # A rerun (the first burst straddled a window boundary) uses the other
        # client, whose count in the new window is still untouched.
        clients = iter((bursty, steady))

        def burst() -> list[httpx2.Response]:
            call = next(clients)
            return [call(server) for server in (a, b, a, b, a, b)]

        answers = within_one_window(HOUR, burst, attempts=2)
    finally:
        for server in servers:
            server.stop()
    # Each process saw 3 requests, under its own limit of 4: only a shared count refuses.
    assert [r.status_code for r in answers] == [200, 200, 200, 200, 429, 429]
