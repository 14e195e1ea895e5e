"""Custom claims on a real server: a runaway script fails closed while others are served."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import httpx2
import pytest

from tests.helpers import basic_auth

pytestmark = pytest.mark.e2e

CONFIG = """
password_grant_enabled = true

[[clients]]
client_id = "legacy"
client_secret = "legacy-secret"
grant_types = ["password"]
scopes = ["api:read"]

[[clients]]
client_id = "machine"
client_secret = "machine-secret"
grant_types = ["client_credentials"]
scopes = ["api:read"]

[[api_resources]]
audience = "https://api.example.test"
scopes = ["api:read"]
access_token_format = "opaque"

[[users]]
username = "alice"
password = "correct horse battery staple"
claims = { roles = ["admin"], plan = "pro" }

[custom_claims]
script_time_limit_seconds = 2.0
"""

ROLES_SCRIPT = """
const getCustomJwtClaims = async ({ context }) => ({
  roles: context.user.roles.map((role) => role.name),
  plan: context.user.customData.plan,
});
"""
LOOPING_SCRIPT = "const getCustomJwtClaims = async () => { while (true) {} };"


def set_script(server, source: str, database_url: str | None) -> None:
    path = server.workdir / "claims.js"
    path.write_text(source)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENSMITH_")}
    if database_url is not None:
        env["TOKENSMITH_DATABASE_URL"] = database_url  # the same database as the server
    subprocess.run(
        [
            sys.executable,
            "-m",
            "tokensmith",
            "claims",
            "script",
            "set",
            "--config",
            str(server.workdir / "tokensmith.toml"),
            "user",
            str(path),
        ],
        cwd=server.workdir,
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    time.sleep(1.3)  # running servers re-read stored scripts within a second


def user_token(server) -> httpx2.Response:
    return httpx2.post(
        f"{server.base_url}/token",
        data={
            "grant_type": "password",
            "username": "alice",
            "password": "correct horse battery staple",
        },
        headers=basic_auth("legacy", "legacy-secret"),
        timeout=30,
    )


def test_stored_script_claims_reach_an_opaque_token_via_introspection(server_factory, database_url):
    server = server_factory(CONFIG)
    set_script(server, ROLES_SCRIPT, database_url)
    response = user_token(server)
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    introspected = httpx2.post(
        f"{server.base_url}/introspect",
        data={"token": token},
        headers=basic_auth("legacy", "legacy-secret"),
    ).json()
    assert introspected["active"] is True
    assert introspected["roles"] == ["admin"]
    assert introspected["plan"] == "pro"


def test_a_looping_script_fails_closed_while_other_requests_are_served(
    server_factory, database_url
):
    server = server_factory(CONFIG)
    set_script(server, LOOPING_SCRIPT, database_url)
    finished: dict[str, float] = {}
    outcome: dict[str, httpx2.Response] = {}

    def looping_request() -> None:
        outcome["user"] = user_token(server)
        finished["user"] = time.monotonic()

    thread = threading.Thread(target=looping_request)
    thread.start()
    time.sleep(0.3)  # let the script start spinning
    served = []
    while thread.is_alive() and len(served) < 5:
        response = httpx2.post(
            f"{server.base_url}/token",
            data={"grant_type": "client_credentials"},
            headers=basic_auth("machine", "machine-secret"),
        )
        served.append((response.status_code, time.monotonic()))
    thread.join(timeout=30)
    assert outcome["user"].status_code == 400
    assert outcome["user"].json()["error"] == "access_denied"
    assert len(served) == 5
    assert all(status == 200 for status, _ in served)
    # every machine token was answered before the runaway script was stopped
    assert all(at < finished["user"] for _, at in served)
