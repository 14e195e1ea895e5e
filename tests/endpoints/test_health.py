"""Liveness, readiness and housekeeping."""

from __future__ import annotations

import asyncio
import time

from click.testing import CliRunner

from tests.conftest import _admin, _in_a_thread
from tokensmith.cli import main
from tokensmith.housekeeping import purge_expired
from tokensmith.models.grant import GrantKind, StoredGrant
from tokensmith.stores.sql.grants import SqlGrantStore


def test_liveness_and_readiness_answer(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "database": "ok"}


def test_readiness_fails_when_the_database_goes_away(make_client, postgres_url):
    client = make_client(database_url=postgres_url)
    assert client.get("/readyz").status_code == 200
    name = postgres_url.rsplit("/", 1)[1]
    _in_a_thread(_admin(f"DROP DATABASE {name} WITH (FORCE)"))
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"
    assert client.get("/healthz").status_code == 200


def grant(key: str, expires_at: int) -> StoredGrant:
    return StoredGrant(key, GrantKind.AUTHORIZATION_CODE, "c", None, expires_at - 60, expires_at)


async def test_purge_keeps_live_and_recently_expired_grants(engine, make_settings):
    store = SqlGrantStore(engine)
    now = int(time.time())
    await store.save(grant("live", now + 60))
    await store.save(grant("just-expired", now - 10))
    await store.save(grant("long-expired", now - 7200))
    assert await purge_expired(store, make_settings(purge_grace_seconds=3600)) == 1
    assert await store.find("live", GrantKind.AUTHORIZATION_CODE) is not None
    assert await store.find("just-expired", GrantKind.AUTHORIZATION_CODE) is not None
    assert await store.find("long-expired", GrantKind.AUTHORIZATION_CODE) is None


def test_purge_command_deletes_long_expired_grants(tmp_path, make_settings):
    settings = make_settings()
    config = tmp_path / "tokensmith.toml"
    config.write_text(
        f'data_dir = "{settings.data_dir}"\ncreate_demo_client = false\n'
        + (f'database_url = "{settings.database}"\n')
    )
    runner = CliRunner()
    assert runner.invoke(main, ["purge", "--config", str(config)]).exit_code == 0

    async def add_old() -> None:
        from tokensmith.stores.sql.engine import create_engine

        engine = create_engine(settings.database)
        try:
            await SqlGrantStore(engine).save(grant("old", int(time.time()) - 10_000))
        finally:
            await engine.dispose()

    asyncio.run(add_old())
    result = runner.invoke(main, ["purge", "--config", str(config)])
    assert result.exit_code == 0
    assert result.stdout.strip() == "purged 1 expired grants"
