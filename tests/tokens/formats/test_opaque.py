"""Opaque access tokens: random handles, only a hash stored, claims kept server-side."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest
from sqlalchemy import text

from tests.helpers import basic_auth
from tests.introspection_config import INTROSPECTION_CONFIG, OPAQUE_API
from tokensmith.stores.sql.engine import create_engine

JOB = basic_auth("reports-job", "reports-job-secret")


@pytest.fixture
def server(make_client):
    return make_client(**INTROSPECTION_CONFIG)


def test_opaque_resource_gets_a_256_bit_handle_not_a_jwt(server):
    response = server.post(
        "/token", data={"grant_type": "client_credentials", "scope": "reports:read"}, headers=JOB
    )
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    assert "." not in token
    assert len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) == 32


def stored_access_tokens(database: str) -> list[tuple[str, str]]:
    async def read() -> list[tuple[str, str]]:
        engine = create_engine(database)
        try:
            async with engine.connect() as connection:
                rows = await connection.execute(
                    text("SELECT key, data FROM grants WHERE kind='access_token'")
                )
                return [
                    (key, json.dumps(data) if not isinstance(data, str) else data)
                    for key, data in rows
                ]
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_only_the_sha256_of_the_handle_is_stored(server, make_settings):
    token = server.post(
        "/token", data={"grant_type": "client_credentials", "scope": "reports:read"}, headers=JOB
    ).json()["access_token"]
    stored = stored_access_tokens(make_settings().database)
    assert len(stored) == 1
    key, data = stored[0]
    assert token not in key
    assert token not in data
    assert OPAQUE_API in data


def test_client_format_setting_overrides_the_resource(make_client):
    config = {**INTROSPECTION_CONFIG}
    config["clients"] = [
        {**c, "access_token_format": "opaque"} if c["client_id"] == "machine" else c
        for c in INTROSPECTION_CONFIG["clients"]
    ]
    client = make_client(**config)
    response = client.post(
        "/token",
        data={"grant_type": "client_credentials"},
        headers=basic_auth("machine", "machine-secret"),
    )
    assert "." not in response.json()["access_token"]
