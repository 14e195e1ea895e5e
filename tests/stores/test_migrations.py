"""Migrations: a database of the previous release's schema upgrades in place, keeping its data."""

from __future__ import annotations

import time

from sqlalchemy import insert, inspect, text

from tokensmith.models.grant import GrantKind
from tokensmith.stores.sql.clients import SqlClientStore
from tokensmith.stores.sql.grants import SqlGrantStore
from tokensmith.stores.sql.keys import SqlKeyStore
from tokensmith.stores.sql.migrate import current_revision, migrate
from tokensmith.stores.sql.tables import clients, grants, metadata, signing_keys, users
from tokensmith.stores.sql.users import SqlUserStore


async def reset(engine) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(metadata.drop_all)
        await connection.execute(text("DROP TABLE IF EXISTS alembic_version"))


async def test_previous_release_database_keeps_clients_users_grants_and_keys(engine):
    await reset(engine)
    await migrate(engine, "0001")  # the schema the first release shipped
    assert await current_revision(engine) == "0001"
    now = int(time.time())
    async with engine.begin() as connection:
        await connection.execute(
            insert(clients).values(
                client_id="old-client",
                client_name=None,
                token_endpoint_auth_method="none",
                secret_hashes=[],
                grant_types=["authorization_code"],
                scopes=["openid"],
                redirect_uris=["https://old.example.test/cb"],
                access_token_format=None,
                access_token_lifetime=None,
                enabled=True,
                created_at=now,
            )
        )
        await connection.execute(
            insert(users).values(
                subject_id="sub-1",
                username="olduser",
                email="old@example.test",
                email_verified=True,
                password_hash=None,
                profile={"given_name": "Old"},
                roles=["admin"],
                custom_data={"plan": "pro"},
                enabled=True,
                created_at=now,
                updated_at=now,
            )
        )
        await connection.execute(
            insert(grants).values(
                key="k1",
                kind="refresh_token",
                client_id="old-client",
                subject_id="sub-1",
                family_id="fam",
                session_id=None,
                data={"scopes": ["openid"]},
                created_at=now,
                expires_at=now + 3600,
                consumed_at=None,
                revoked_at=None,
            )
        )
        await connection.execute(
            text(
                "INSERT INTO signing_keys (kid, algorithm, encrypted_private_key, created_at,"
                " status) VALUES ('legacy', 'ES256', :key, 100, 'active')"
            ),
            {"key": b"ciphertext"},
        )

    await migrate(engine)

    assert await current_revision(engine) == "0004"
    client = await SqlClientStore(engine).find_client_by_id("old-client")
    assert client is not None
    assert client.redirect_uris == ("https://old.example.test/cb",)
    user = await SqlUserStore(engine).find_user_by_username("olduser")
    assert user is not None
    assert user.roles == ("admin",)
    assert user.custom_data == {"plan": "pro"}
    grant = await SqlGrantStore(engine).find("k1", GrantKind.REFRESH_TOKEN)
    assert grant is not None
    assert grant.family_id == "fam"
    (key,) = await SqlKeyStore(engine).list_keys()
    assert key.kid == "legacy"
    assert key.activates_at is None  # read as "signing since created_at"
    async with engine.connect() as connection:
        columns = await connection.run_sync(
            lambda sync: {c["name"] for c in inspect(sync).get_columns("signing_keys")}
        )
    assert {"activates_at", "retired_at", "remove_after", "succeeds"} <= columns
    assert signing_keys.c.succeeds.name in columns


async def test_a_database_made_before_migrations_is_stamped_and_upgraded(engine):
    await reset(engine)
    await migrate(engine, "0001")
    async with engine.begin() as connection:
        await connection.execute(text("DROP TABLE alembic_version"))
    await migrate(engine)
    assert await current_revision(engine) == "0004"


async def test_migrating_twice_changes_nothing(engine):
    await migrate(engine)
    await migrate(engine)
    assert await current_revision(engine) == "0004"


def test_migrate_command_reports_the_revision(tmp_path):
    from click.testing import CliRunner

    from tokensmith.cli import main

    config = tmp_path / "tokensmith.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n')
    result = CliRunner().invoke(main, ["migrate", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith("is at revision 0004")


def test_pool_sizes_come_from_the_settings(make_settings, postgres_url):
    from tokensmith.composition import compose

    components = compose(
        make_settings(database_url=postgres_url, database_pool_size=3, database_max_overflow=2)
    )
    pool = components["engine"].sync_engine.pool
    assert pool.size() == 3
    assert pool._max_overflow == 2  # no public accessor
