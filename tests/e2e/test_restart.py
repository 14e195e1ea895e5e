"""The signing key survives a restart: same kid, and old tokens still verify."""

from __future__ import annotations

import httpx2
import jwt
import pytest

from tests.e2e.conftest import start_server
from tests.helpers import basic_auth

pytestmark = pytest.mark.e2e


def get_token(base_url: str) -> str:
    response = httpx2.post(
        f"{base_url}/token",
        data={"grant_type": "client_credentials"},
        headers=basic_auth("orders-service", "s3cret-from-a-vault"),
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def test_restart_keeps_the_signing_key(tmp_path, config_text, database_url):
    (tmp_path / "tokensmith.toml").write_text(config_text)
    args = ["--config", str(tmp_path / "tokensmith.toml")]

    first = start_server(tmp_path, args, database_url=database_url)
    try:
        old_token = get_token(first.base_url)
        old_jwks = httpx2.get(f"{first.base_url}/.well-known/jwks.json").json()
    finally:
        first.stop()

    second = start_server(tmp_path, args, database_url=database_url)
    try:
        new_token = get_token(second.base_url)
        new_jwks = httpx2.get(f"{second.base_url}/.well-known/jwks.json").json()
        jwks_client = jwt.PyJWKClient(f"{second.base_url}/.well-known/jwks.json")
        key = jwks_client.get_signing_key_from_jwt(old_token)
        claims = jwt.decode(
            old_token, key.key, algorithms=["ES256"], audience="https://api.example.test"
        )
    finally:
        second.stop()

    assert new_jwks == old_jwks
    assert (
        jwt.get_unverified_header(old_token)["kid"] == jwt.get_unverified_header(new_token)["kid"]
    )
    assert claims["client_id"] == "orders-service"


def test_first_start_creates_a_demo_client_shown_once(tmp_path, database_url):
    first = start_server(tmp_path, [], database_url=database_url)
    try:
        # give the banner time to be printed before we stop
        httpx2.get(f"{first.base_url}/.well-known/jwks.json")
    finally:
        output = first.stop()
    assert "data folder:" in output
    assert str(tmp_path / "tokensmith-data") in output
    assert f"tokensmith issuer:  {first.base_url}" in output
    secret = next(line.split()[-1] for line in output.splitlines() if "client_secret:" in line)

    second = start_server(tmp_path, [], database_url=database_url)
    try:
        response = httpx2.post(
            f"{second.base_url}/token",
            data={"grant_type": "client_credentials"},
            headers=basic_auth("demo-client", secret),
        )
    finally:
        second_output = second.stop()
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "demo:read demo:write"
    assert "client_secret:" not in second_output
    stored = b"".join(path.read_bytes() for path in (tmp_path / "tokensmith-data").iterdir())
    assert secret.encode() not in stored
