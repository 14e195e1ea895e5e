"""Opaque access tokens: random handles, only a hash stored, claims kept server-side."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time

import pytest
from sqlalchemy import text

from tests.helpers import basic_auth
from tests.introspection_config import INTROSPECTION_CONFIG, OPAQUE_API
from tokensmith.models.grant import ISSUE_TIME_DIGITS, handle_key
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
    issued_ms, random_part = int(token[:ISSUE_TIME_DIGITS], 16), token[ISSUE_TIME_DIGITS:]
    assert abs(issued_ms / 1000 - time.time()) < 60
    assert len(base64.urlsafe_b64decode(random_part + "=" * (-len(random_part) % 4))) == 32


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
    digest = base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()).rstrip(b"=")
    assert key == token[:ISSUE_TIME_DIGITS] + digest.decode()  # the issue time, then the hash
    assert token[ISSUE_TIME_DIGITS:] not in key
    assert token not in data
    assert OPAQUE_API in data


def test_stored_keys_follow_the_order_tokens_were_issued(server, make_settings):
    """New rows go to the end of the primary-key index, not to a random page of it."""
    issued = []
    for _ in range(4):
        time.sleep(0.002)  # the keys order by the millisecond of issue
        issued.append(
            server.post(
                "/token",
                data={"grant_type": "client_credentials", "scope": "reports:read"},
                headers=JOB,
            ).json()["access_token"]
        )
    keys = [key for key, _ in stored_access_tokens(make_settings().database)]
    assert sorted(keys) == sorted(handle_key(token) for token in issued)
    assert sorted(keys) == [handle_key(token) for token in issued]


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
