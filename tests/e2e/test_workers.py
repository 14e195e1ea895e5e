"""tokensmith serve --workers N: several processes on one port, one data folder."""

from __future__ import annotations

from pathlib import Path

import httpx2
import jwt
import pytest

from tests.e2e.conftest import RunningServer, start_server
from tests.helpers import basic_auth

pytestmark = pytest.mark.e2e


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def tokens_verify(server: RunningServer, count: int) -> None:
    """``count`` client_credentials tokens, each checked against the server's JWKS."""
    jwks = jwt.PyJWKClient(f"{server.base_url}/.well-known/jwks.json")
    with httpx2.Client(base_url=server.base_url) as client:
        for _ in range(count):
            response = client.post(
                "/token",
                data={"grant_type": "client_credentials"},
                headers=basic_auth("orders-service", "s3cret-from-a-vault"),
            )
            assert response.status_code == 200, response.text
            token = response.json()["access_token"]
            key = jwks.get_signing_key_from_jwt(token)
            jwt.decode(token, key.key, algorithms=["ES256"], audience="https://api.example.test")


def test_two_workers_serve_tokens_that_verify(tmp_path, config_text, database_url):
    (tmp_path / "tokensmith.toml").write_text(config_text)
    server = start_server(
        tmp_path,
        ["--config", str(tmp_path / "tokensmith.toml"), "--workers", "2"],
        database_url=database_url,
    )
    try:
        # uvicorn's supervisor forks the workers (plus, on some versions, a helper)
        assert len(children_of(server.process.pid)) >= 2
        tokens_verify(server, 20)
    finally:
        server.stop()
