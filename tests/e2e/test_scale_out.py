"""Many processes over one PostgreSQL: shared state, single use under races, crash safety."""

from __future__ import annotations

import os
import random
import re
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2
import jwt
import pytest
from cryptography.fernet import Fernet
from redis import Redis as SyncRedis

from tests.conftest import REDIS_URL, TEST_DATABASE
from tests.e2e.conftest import RunningServer, start_server
from tests.helpers import basic_auth
from tests.oidc import pkce_pair

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.postgres,
    # These always run on PostgreSQL; the second (PostgreSQL) pass need not repeat them.
    pytest.mark.skipif(TEST_DATABASE == "postgresql", reason="already run on PostgreSQL"),
]

ISSUER = "http://tokensmith.test"
REDIRECT = "https://app.example.test/callback"
DEVICE = "urn:ietf:params:oauth:grant-type:device_code"
CONFIG = """
issuer = "{issuer}"
database_url = "{database_url}"
key_encryption_key = "{kek}"
device_code_interval = 1

[[clients]]
client_id = "web-app"
client_secret = "web-secret"
grant_types = ["authorization_code", "refresh_token"]
scopes = ["openid", "offline_access", "api:read"]
redirect_uris = ["{redirect}"]
require_consent = false

[[clients]]
client_id = "tv"
token_endpoint_auth_method = "none"
grant_types = ["{device}"]
scopes = ["openid", "api:read"]

[[api_resources]]
audience = "https://api.example.test"
scopes = ["api:read"]

[[users]]
username = "alice"
password = "correct horse battery staple"
"""
WEB = basic_auth("web-app", "web-secret")


def start_two(tmp_path: Path, postgres_url: str, redis: str = "") -> list[RunningServer]:
    config = redis + CONFIG.format(
        issuer=ISSUER,
        database_url=postgres_url,
        redirect=REDIRECT,
        device=DEVICE,
        kek=Fernet.generate_key().decode(),
    )
    servers = []
    for name in ("a", "b"):
        workdir = tmp_path / name
        workdir.mkdir()
        (workdir / "tokensmith.toml").write_text(config)
        servers.append(start_server(workdir, ["--config", str(workdir / "tokensmith.toml")]))
    return servers


@pytest.fixture
def two_servers(tmp_path: Path, postgres_url: str):
    servers = start_two(tmp_path, postgres_url)
    yield servers
    for server in servers:
        server.stop()


@pytest.fixture
def two_servers_with_redis(tmp_path: Path, postgres_url: str, redis_key_prefix: str):
    """The same, with codes and device codes in Redis (``redis_url``), as in production."""
    redis = f'redis_url = "{REDIS_URL}"\nredis_key_prefix = "{redis_key_prefix}"\n'
    servers = start_two(tmp_path, postgres_url, redis)
    yield servers
    for server in servers:
        server.stop()


def redis_grant_keys(prefix: str) -> list[bytes]:
    client = SyncRedis.from_url(REDIS_URL)
    try:
        return list(client.scan_iter(f"{prefix}:grant:*"))
    finally:
        client.close()


ON_BOTH_STORES = pytest.mark.parametrize(
    "servers", ["two_servers", "two_servers_with_redis"], ids=["postgresql", "postgresql+redis"]
)


def hidden(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', html))


def code_from(server: RunningServer) -> tuple[str, str]:
    """Sign alice in through ``server`` and return (code, code_verifier)."""
    verifier, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": "web-app",
        "redirect_uri": REDIRECT,
        "scope": "openid offline_access api:read",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": "s",
    }
    with httpx2.Client(base_url=server.base_url) as browser:
        start = browser.get("/authorize", params=params)
        login = browser.get(start.headers["location"])
        answer = browser.post(
            "/login",
            data={
                **hidden(login.text),
                "username": "alice",
                "password": "correct horse battery staple",
                "action": "login",
            },
        )
    location = answer.headers["location"]
    assert location.startswith(REDIRECT), location
    return re.search(r"code=([^&]+)", location).group(1), verifier


def redeem(server: RunningServer, code: str, verifier: str) -> httpx2.Response:
    return httpx2.post(
        f"{server.base_url}/token",
        headers=WEB,
        timeout=30,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
        },
    )


def refresh(server: RunningServer, token: str) -> httpx2.Response:
    with httpx2.Client(base_url=server.base_url, headers=WEB, timeout=30) as client:
        return refresh_through(client, token)


def refresh_through(client: httpx2.Client, token: str) -> httpx2.Response:
    """The refresh request, on a client made with ``base_url``, ``WEB`` headers and a timeout."""
    return client.post("/token", data={"grant_type": "refresh_token", "refresh_token": token})


def race(calls) -> list[httpx2.Response]:
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def outcomes(responses: list[httpx2.Response]) -> tuple[int, set[str]]:
    wins = sum(r.status_code == 200 for r in responses)
    errors = {r.json()["error"] for r in responses if r.status_code != 200}
    return wins, errors


def test_a_code_from_one_process_is_redeemed_at_the_other(two_servers):
    a, b = two_servers
    code, verifier = code_from(a)
    response = redeem(b, code, verifier)
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    key = jwt.PyJWKClient(f"{a.base_url}/.well-known/jwks.json").get_signing_key_from_jwt(token)
    claims = jwt.decode(token, key.key, algorithms=["ES256"], audience="https://api.example.test")
    assert claims["iss"] == ISSUER
    assert (
        httpx2.get(f"{a.base_url}/.well-known/jwks.json").json()
        == httpx2.get(f"{b.base_url}/.well-known/jwks.json").json()
    )


@ON_BOTH_STORES
def test_fifty_concurrent_redemptions_of_one_code_succeed_once(request, servers):
    two_servers = request.getfixturevalue(servers)
    code, verifier = code_from(two_servers[0])
    if servers == "two_servers_with_redis":  # the code really is in Redis, not the database
        assert redis_grant_keys(request.getfixturevalue("redis_key_prefix"))
    calls = [lambda s=two_servers[i % 2]: redeem(s, code, verifier) for i in range(50)]
    wins, errors = outcomes(race(calls))
    assert wins == 1
    assert errors == {"invalid_grant"}


def test_fifty_concurrent_refreshes_of_one_token_succeed_once(two_servers):
    a, _ = two_servers
    code, verifier = code_from(a)
    token = redeem(a, code, verifier).json()["refresh_token"]
    calls = [lambda s=two_servers[i % 2]: refresh(s, token) for i in range(50)]
    wins, errors = outcomes(race(calls))
    assert wins == 1
    assert errors == {"invalid_grant"}


@ON_BOTH_STORES
def test_fifty_concurrent_polls_of_one_approved_device_code_succeed_once(request, servers):
    two_servers = request.getfixturevalue(servers)
    a, _ = two_servers
    started = httpx2.post(
        f"{a.base_url}/device_authorization", data={"client_id": "tv", "scope": "openid api:read"}
    ).json()
    with httpx2.Client(base_url=a.base_url) as browser:
        page = browser.get("/device", params={"user_code": started["user_code"]})
        confirm = browser.post(
            "/device",
            data={
                **hidden(page.text),
                "user_code": started["user_code"],
                "username": "alice",
                "password": "correct horse battery staple",
            },
        )
        browser.post("/device/confirm", data={**hidden(confirm.text), "action": "approve"})
    data = {"grant_type": DEVICE, "device_code": started["device_code"], "client_id": "tv"}
    calls = [
        lambda s=two_servers[i % 2]: httpx2.post(f"{s.base_url}/token", data=data, timeout=30)
        for i in range(50)
    ]
    wins, errors = outcomes(race(calls))
    assert wins == 1
    assert errors == {"invalid_grant"}


def test_a_killed_process_loses_no_refresh_token_it_handed_out(two_servers):
    a, b = two_servers
    chains = []
    for _ in range(8):
        code, verifier = code_from(b)
        chains.append(
            {
                "latest": redeem(b, code, verifier).json()["refresh_token"],
                "in_flight": None,
                "rotations_at_a": 0,
            }
        )
    stop = threading.Event()

    def keep_refreshing(chain):
        # One client per chain, built before the loop: building one (its TLS context) costs
        # ~25 ms of GIL-held Python, which would keep most chains "in flight" most of the time
        # and leave none settled to check. No keep-alive: after the kill each request opens a
        # fresh connection, so a token that never reached the server fails with ConnectError.
        no_reuse = httpx2.Limits(max_keepalive_connections=0)
        with httpx2.Client(base_url=a.base_url, headers=WEB, timeout=30, limits=no_reuse) as client:
            refresh_at_a(client, chain)

    def refresh_at_a(client, chain):
        while not stop.is_set():
            chain["in_flight"] = chain["latest"]
            try:
                response = refresh_through(client, chain["latest"])
            except httpx2.ConnectError:
                chain["in_flight"] = None  # never reached the server: the token is untouched
                return
            except httpx2.TransportError:
                return  # the process died with it in hand; this token's fate is unknown
            if response.status_code != 200:
                return
            chain["latest"] = response.json()["refresh_token"]
            chain["in_flight"] = None
            chain["rotations_at_a"] += 1
            # A client holding its token between uses, for a time of its own: chains that slept
            # alike would move in step, all in flight or all idle at the kill.
            time.sleep(random.uniform(0.05, 0.25))

    threads = [threading.Thread(target=keep_refreshing, args=(c,)) for c in chains]
    for thread in threads:
        thread.start()
    time.sleep(1.5)
    os.kill(a.process.pid, signal.SIGKILL)
    time.sleep(0.2)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    settled = [c for c in chains if c["in_flight"] is None]
    # Every token a client got in a 200 and has not sent since must still work at b.
    # (A token that was in flight when the process died may have been used up.)
    for chain in settled:
        assert chain["rotations_at_a"] > 0  # the token checked was handed out by the killed one
        assert refresh(b, chain["latest"]).status_code == 200
    assert settled, "every chain was cut mid-request; nothing to check"
