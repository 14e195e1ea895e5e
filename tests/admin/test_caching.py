"""Stored clients and resources are cached per process, and other processes' changes show
within about a second (the change version), while writes in this process show at once."""

from __future__ import annotations

import time

from tests.admin.conftest import ADMIN_CONFIG, admin_headers, token_for
from tokensmith.models.client import Client
from tokensmith.models.resource import ApiResource
from tokensmith.stores.sql.client_cache import CachedClientStore
from tokensmith.stores.sql.clients import SqlClientStore
from tokensmith.stores.sql.resources import ChainedResourceStore, SqlResourceStore

BILLING = {"client_id": "billing-job", "scopes": ["api:read"]}
WAIT_SECONDS = 10.0  # generous: the recheck period is 1 s, CI machines are slow


def eventually(condition) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < WAIT_SECONDS, "the change never showed"
        time.sleep(0.05)
    return time.monotonic() - started


def test_other_app_sees_created_rotated_and_deleted_clients(make_client):
    writer = make_client(**ADMIN_CONFIG)
    reader = make_client(**ADMIN_CONFIG)
    headers = admin_headers(writer)
    assert token_for(reader, "billing-job", "x").status_code == 401  # a cached miss
    secret = writer.post("/admin/clients", json=BILLING, headers=headers).json()["client_secret"]
    eventually(lambda: token_for(reader, "billing-job", secret).status_code == 200)
    new = writer.post("/admin/clients/billing-job/secret", headers=headers).json()["client_secret"]
    eventually(lambda: token_for(reader, "billing-job", secret).status_code == 401)
    assert token_for(reader, "billing-job", new).status_code == 200
    writer.delete("/admin/clients/billing-job", headers=headers)
    eventually(lambda: token_for(reader, "billing-job", new).status_code == 401)


def test_other_app_sees_a_new_resource(make_client):
    writer = make_client(**ADMIN_CONFIG)
    reader = make_client(**ADMIN_CONFIG)
    headers = admin_headers(writer)
    body = {"audience": "https://reports.example.test", "scopes": ["reports:read"]}
    assert writer.post("/admin/resources", json=body, headers=headers).status_code == 201
    client = {"client_id": "reporter", "scopes": ["reports:read"]}
    secret = writer.post("/admin/clients", json=client, headers=headers).json()["client_secret"]
    eventually(
        lambda: token_for(reader, "reporter", secret, scope="reports:read").status_code == 200
    )


class CountingClientStore(SqlClientStore):
    """The real store, counting the lookups that reach the database."""

    lookups = 0

    async def find_client_by_id(self, client_id: str) -> Client | None:
        self.lookups += 1
        return await super().find_client_by_id(client_id)


async def test_lookups_hit_the_database_once_until_a_write(engine):
    stored = CountingClientStore(engine)
    cached = CachedClientStore(stored)
    client = Client("c1", "client_secret_basic", frozenset(), frozenset())
    await cached.add_client(client)
    for _ in range(20):
        assert await cached.find_client_by_id("c1") == client
        assert await cached.find_client_by_id("missing") is None
    assert stored.lookups == 2
    await cached.remove_client("c1")
    assert await cached.find_client_by_id("c1") is None  # at once, in this process
    assert stored.lookups == 3


async def test_a_write_by_another_store_shows_after_the_recheck(engine):
    cached = CachedClientStore(SqlClientStore(engine), recheck_seconds=0.0)
    assert await cached.find_client_by_id("c2") is None
    await SqlClientStore(engine).add_client(
        Client("c2", "client_secret_basic", frozenset(), frozenset())
    )
    assert await cached.find_client_by_id("c2") is not None


async def test_resources_chain_config_first_and_follow_the_version(engine):
    configured = ApiResource("https://api.example.test", frozenset({"api:read"}))
    chained = ChainedResourceStore([configured], SqlResourceStore(engine), recheck_seconds=0.0)
    other = SqlResourceStore(engine)
    await other.add_resource(ApiResource("https://api.example.test", frozenset({"x"})))
    await other.add_resource(ApiResource("https://r.example.test", frozenset({"r"})))
    assert await chained.find_api_resource("https://api.example.test") == configured
    assert [r.audience for r in await chained.find_api_resources_by_scope(["r"])] == [
        "https://r.example.test"
    ]
    assert "x" not in await chained.all_scopes()
    await other.remove_resource("https://r.example.test")
    assert await chained.find_api_resource("https://r.example.test") is None
