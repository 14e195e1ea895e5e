"""A busy or unreachable database answers 503 temporarily_unavailable, never a 500.

The SQLite tests hold the database's write lock from a second connection
(``BEGIN IMMEDIATE``), as another server process writing would; the server's
busy timeout is short, so its write gives up at once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from tests.conftest import AUDIENCE, CLIENT_ID, CLIENT_SECRET, _admin, _in_a_thread
from tests.grants.test_device_code import CONFIG as DEVICE_CONFIG
from tests.helpers import assert_oauth_error, basic_auth
from tests.oidc import OIDC_CONFIG, authorize_params

OPAQUE_API = [
    {"audience": AUDIENCE, "scopes": ["api:read", "api:write"], "access_token_format": "opaque"}
]
TOKEN_FORM = {"grant_type": "client_credentials", "scope": "api:read", "resource": AUDIENCE}


@contextmanager
def write_lock_held(path: str) -> Iterator[sqlite3.Connection]:
    """Another connection holds SQLite's single write lock until the block ends."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        yield connection
        connection.execute("ROLLBACK")
    finally:
        connection.close()


def stored_access_tokens(path: str) -> int:
    with sqlite3.connect(path) as connection:
        (count,) = connection.execute(
            "SELECT count(*) FROM grants WHERE kind = 'access_token'"
        ).fetchone()
    return int(count)


def request_token(client):
    return client.post("/token", data=TOKEN_FORM, headers=basic_auth(CLIENT_ID, CLIENT_SECRET))


def test_token_request_answers_503_while_another_writer_holds_the_lock(make_client, tmp_path):
    path = str(tmp_path / "busy.db")
    client = make_client(
        database_url=f"sqlite+aiosqlite:///{path}",
        sqlite_busy_timeout_ms=50,
        api_resources=OPAQUE_API,
    )
    with write_lock_held(path):
        response = request_token(client)
        assert_oauth_error(response, "temporarily_unavailable", 503)
        assert response.headers["retry-after"] == "1"
    assert stored_access_tokens(path) == 0
    answer = request_token(client)
    assert answer.status_code == 200, answer.text
    assert stored_access_tokens(path) == 1


def test_browser_gets_an_error_page_while_the_database_is_busy(make_client, tmp_path):
    path = str(tmp_path / "busy.db")
    client = make_client(
        **OIDC_CONFIG, database_url=f"sqlite+aiosqlite:///{path}", sqlite_busy_timeout_ms=50
    )
    params = {k: v for k, v in authorize_params().items() if not k.startswith("_")}
    with write_lock_held(path):
        response = client.get(
            "/authorize", params=params, headers={"Accept": "text/html"}, follow_redirects=False
        )
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["retry-after"] == "1"
    assert "try again" in response.text


def test_token_request_answers_503_when_postgresql_goes_away(make_client, postgres_url):
    client = make_client(database_url=postgres_url, api_resources=OPAQUE_API)
    assert request_token(client).status_code == 200
    name = postgres_url.rsplit("/", 1)[1]
    _in_a_thread(_admin(f"DROP DATABASE {name} WITH (FORCE)"))
    for _ in range(2):  # the connection the drop cut, then a new one that finds no database
        response = request_token(client)
        assert_oauth_error(response, "temporarily_unavailable", 503)
        assert response.headers["retry-after"] == "1"


def test_connections_cut_under_the_server_are_replaced_without_a_500(make_client, postgres_url):
    client = make_client(database_url=postgres_url, api_resources=OPAQUE_API)
    assert request_token(client).status_code == 200
    name = postgres_url.rsplit("/", 1)[1]
    _in_a_thread(
        _admin(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"
        )
    )
    # Without a ping per checkout the first use of a cut connection fails: that
    # request answers 503 (the client may retry); the pool then starts afresh.
    first = request_token(client)
    if first.status_code != 200:
        assert_oauth_error(first, "temporarily_unavailable", 503)
    answer = request_token(client)
    assert answer.status_code == 200, answer.text


def test_unreachable_redis_answers_503_not_500(make_client):
    # Device codes are short-lived state: with redis_url set they live in Redis only.
    server = make_client(
        **DEVICE_CONFIG, redis_url="redis://127.0.0.1:1/0", redis_key_prefix="ts-test-down"
    )
    response = server.post("/device_authorization", data={"client_id": "tv", "scope": "openid"})
    assert_oauth_error(response, "temporarily_unavailable", 503)
    assert response.headers["retry-after"] == "1"
