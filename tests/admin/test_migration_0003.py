"""Migration 0003: client metadata, stored resources, change versions; old rows still read."""

from __future__ import annotations

import time

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, text

from tokensmith.models.client import Client
from tokensmith.stores.sql.clients import SqlClientStore
from tokensmith.stores.sql.migrate import current_revision, migrate
from tokensmith.stores.sql.tables import clients, metadata


async def reset(engine) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(metadata.drop_all)
        await connection.execute(text("DROP TABLE IF EXISTS alembic_version"))


async def test_a_0002_client_row_reads_the_same_after_the_upgrade(engine):
    await reset(engine)
    await migrate(engine, "0002")
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO clients (client_id, client_name, token_endpoint_auth_method,"
                " secret_hashes, grant_types, scopes, redirect_uris, access_token_format,"
                " access_token_lifetime, enabled, created_at) VALUES ('old', 'Old', 'none',"
                " '[]', '[\"authorization_code\"]', '[\"openid\"]', '[\"https://o.test/cb\"]',"
                " 'opaque', 60, :enabled, :now)"
            ),
            {"enabled": True, "now": int(time.time())},
        )
    await migrate(engine)
    assert await current_revision(engine) == "0004"  # the newest
    store = SqlClientStore(engine)
    client = await store.find_client_by_id("old")
    assert client == Client(
        client_id="old",
        client_name="Old",
        token_endpoint_auth_method="none",
        grant_types=frozenset({"authorization_code"}),
        scopes=frozenset({"openid"}),
        redirect_uris=("https://o.test/cb",),
        access_token_format="opaque",
        access_token_lifetime=60,
    )
    assert await store.version() == 0
    await store.add_client(Client("new", "none", frozenset(), frozenset()))
    assert await store.version() == 1


async def test_tables_match_the_migrations(engine):
    async with engine.connect() as connection:
        differences = await connection.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), metadata)
        )
    assert differences == []


async def test_a_row_with_metadata_keeps_unknown_keys_harmless(engine):
    now = int(time.time())
    async with engine.begin() as connection:
        await connection.execute(
            insert(clients).values(
                client_id="future",
                token_endpoint_auth_method="none",
                secret_hashes=[],
                grant_types=[],
                scopes=[],
                redirect_uris=[],
                enabled=True,
                created_at=now,
                client_metadata={"client_id": "future", "a_field_from_a_later_release": 1},
            )
        )
    client = await SqlClientStore(engine).find_client_by_id("future")
    assert client is not None
    assert client.client_id == "future"
