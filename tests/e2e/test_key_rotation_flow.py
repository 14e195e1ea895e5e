"""Key rotation end to end: ``tokensmith keys`` run as a subprocess against two running servers.

Two server processes share one database (SQLite file, or PostgreSQL with
TOKENSMITH_TEST_DATABASE=postgresql); the CLI changes the keys in that database
and both servers pick the change up at their next reload. Everything is
observed over HTTP: the kid in the tokens and the keys in /.well-known/jwks.json.

The timings are shrunk so the whole lifecycle takes seconds: a new key is
announced for ANNOUNCE seconds, tokens live LIFETIME seconds, and a key stays
published LIFETIME seconds after it stops signing.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx2
import jwt
import pytest
from cryptography.fernet import Fernet

from tests.e2e.conftest import RunningServer, start_server
from tests.helpers import basic_auth

pytestmark = pytest.mark.e2e

AUDIENCE = "https://api.example.test"
ANNOUNCE = 3
LIFETIME = 10
RELOAD = 0.2
CONFIG = """
data_dir = "{data_dir}"
key_encryption_key = "{kek}"
create_demo_client = false
key_rotation_days = 0
key_announce_seconds = {announce}
key_publish_overlap = 0
key_reload_seconds = {reload}
access_token_lifetime = {lifetime}
id_token_lifetime = {lifetime}

[[clients]]
client_id = "orders-service"
client_secret = "s3cret-from-a-vault"
grant_types = ["client_credentials"]
scopes = ["api:read"]

[[api_resources]]
audience = "{audience}"
scopes = ["api:read"]
access_token_format = "jwt"
"""


def token(server: RunningServer) -> str:
    response = httpx2.post(
        f"{server.base_url}/token",
        data={"grant_type": "client_credentials", "scope": "api:read"},
        headers=basic_auth("orders-service", "s3cret-from-a-vault"),
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def kid_of(value: str) -> str:
    return str(jwt.get_unverified_header(value)["kid"])


def jwks(server: RunningServer) -> dict[str, Any]:
    response = httpx2.get(f"{server.base_url}/.well-known/jwks.json")
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


def kids(server: RunningServer) -> list[str]:
    return [key["kid"] for key in jwks(server)["keys"]]


def verify(value: str, server: RunningServer) -> dict[str, Any]:
    """Check ``value`` with the JWKS ``server`` publishes now, as a resource server would."""
    key_set = jwt.PyJWKSet.from_dict(jwks(server))
    return jwt.decode(value, key_set[kid_of(value)].key, algorithms=["ES256"], audience=AUDIENCE)


def wait_for(condition: Callable[[], bool], what: str, seconds: float) -> float:
    """Poll ``condition`` until it holds; return the wall-clock time it was first seen."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return time.time()
        time.sleep(0.05)
    raise AssertionError(f"not within {seconds}s: {what}")


@pytest.fixture
def cluster(tmp_path: Path, database_url: str | None):
    """Two server processes on one database, and a ``tokensmith keys`` runner on it."""
    config = tmp_path / "tokensmith.toml"
    config.write_text(
        CONFIG.format(
            data_dir=tmp_path / "data",
            kek=Fernet.generate_key().decode(),
            announce=ANNOUNCE,
            lifetime=LIFETIME,
            reload=RELOAD,
            audience=AUDIENCE,
        )
    )
    args = ["--config", str(config)]
    servers: list[RunningServer] = []

    def keys(*command: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENSMITH_")}
        if database_url is not None:
            env["TOKENSMITH_DATABASE_URL"] = database_url
        done = subprocess.run(
            [sys.executable, "-m", "tokensmith", "keys", command[0], *args, *command[1:]],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, (done.stdout, done.stderr)
        return done

    try:
        for _ in range(2):
            servers.append(start_server(tmp_path, args, database_url=database_url))
        yield servers[0], servers[1], keys
    finally:
        for server in servers:
            server.stop()


def test_rotate_publishes_then_signs_then_drops_the_old_key_on_both_processes(cluster):
    a, b, keys = cluster

    # Before: one key, the same on both processes.
    before = token(a)
    old = kid_of(before)
    assert kids(a) == kids(b) == [old]
    assert kid_of(token(b)) == old

    rotated = keys("rotate")
    new = rotated.stdout.strip()
    assert new and new != old
    signs_from = re.search(r"published now; signs from (\S+Z)", rotated.stderr)
    assert signs_from, rotated.stderr
    activates_at = int(datetime.fromisoformat(signs_from.group(1)).timestamp())

    # Announced: both processes publish the new key before it signs, and until it
    # does, tokens from either process are still signed with the old one.
    seen_at = max(
        wait_for(lambda s=s: new in kids(s), f"{new} in {s.base_url} JWKS", 5) for s in (a, b)
    )
    assert seen_at < activates_at
    announced = [token(a), token(b)]
    assert [kid_of(t) for t in announced] == [old, old]
    assert all(verify(t, a)["iat"] < activates_at for t in announced)

    # Active: once the announce window is over, both processes sign with the new key.
    signed_by_old = [before, *announced]

    def signs_with_new(server: RunningServer) -> bool:
        value = token(server)
        if kid_of(value) == old:
            signed_by_old.append(value)
            return False
        assert kid_of(value) == new
        return True

    for server in (a, b):
        wait_for(lambda s=server: signs_with_new(s), f"{server.base_url} signing with {new}", 10)
    after = token(b)
    assert kid_of(after) == kid_of(token(a)) == new
    assert verify(after, a)["iat"] >= activates_at
    assert sorted(kids(a)) == sorted(kids(b)) == sorted([old, new])
    # The old key's tokens, the one from before the rotation included, still verify at both.
    last_exp = max(
        int(jwt.decode(t, options={"verify_signature": False})["exp"]) for t in signed_by_old
    )
    assert time.time() < last_exp
    for value in (before, signed_by_old[-1]):
        assert verify(value, a)["client_id"] == verify(value, b)["client_id"] == "orders-service"

    listed = {key["kid"]: key for key in json.loads(keys("list", "--json").stdout)}
    assert (listed[old]["status"], listed[new]["status"]) == ("retired", "active")
    assert listed[new]["activates_at"] == activates_at
    assert listed[old]["remove_after"] >= last_exp

    # Retired: the old key leaves both JWKS, but not before every token it signed expired.
    gone: set[str] = set()

    def old_key_gone() -> bool:
        for server in (a, b):
            if old not in kids(server):
                answered_at = time.time()
                assert answered_at >= last_exp, f"{old} left {server.base_url} too early"
                gone.add(server.base_url)
        return len(gone) == 2

    wait_for(old_key_gone, f"{old} gone from both JWKS", LIFETIME + 5)
    assert jwks(a) == jwks(b)
    assert kids(a) == [new]
    with pytest.raises(KeyError):
        verify(before, a)
    assert kid_of(token(a)) == kid_of(token(b)) == new
    statuses = {key["kid"]: key["status"] for key in json.loads(keys("list", "--json").stdout)}
    assert statuses == {old: "expired", new: "active"}
