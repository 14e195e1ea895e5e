"""Factories for settings, in-process apps and SQL engines shared by the suite."""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.testclient import TestClient

from tokensmith import Services, Settings, create_app
from tokensmith.stores.sql.engine import create_engine, create_schema
from tokensmith.stores.sql.tables import metadata

POSTGRES_URL = os.environ.get(
    "TOKENSMITH_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
TEST_DATABASE = os.environ.get("TOKENSMITH_TEST_DATABASE", "sqlite")
"""Which database the whole suite runs on: ``sqlite`` (default) or ``postgresql``."""
REDIS_URL = os.environ.get("TOKENSMITH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
TEST_REDIS = os.environ.get("TOKENSMITH_TEST_REDIS") == "1"
"""Whether apps made by ``make_settings`` keep short-lived state in Redis (``redis_url``)."""

CLIENT_ID = "orders-service"
CLIENT_SECRET = "s3cret-from-a-vault"
AUDIENCE = "https://api.example.test"

# Cheap argon2 for the suite's many users and logins; the production defaults are
# exercised by tests/test_passwords.py and the README test.
TEST_PASSWORD_HASHING = {"time_cost": 1, "memory_kib": 8192, "parallelism": 1}

BASE_CONFIG: dict[str, Any] = {
    "password_hashing": TEST_PASSWORD_HASHING,
    "clients": [
        {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "token_endpoint_auth_method": "client_secret_basic",
            "grant_types": ["client_credentials"],
            "scopes": ["api:read", "api:write"],
        },
        {
            "client_id": "post-client",
            "client_secret": "post-secret",
            "token_endpoint_auth_method": "client_secret_post",
            "grant_types": ["client_credentials"],
            "scopes": ["api:read"],
        },
        {
            "client_id": "no-cc-client",
            "client_secret": "no-cc-secret",
            "grant_types": [],
            "scopes": ["api:read"],
        },
    ],
    "api_resources": [
        {"audience": AUDIENCE, "scopes": ["api:read", "api:write"]},
        {"audience": "https://billing.example.test", "scopes": ["billing:read"]},
    ],
}


def _in_a_thread(coroutine: Any) -> Any:
    """Run a coroutine to completion on its own loop, whatever loop is running here."""
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(asyncio.run(coroutine)))
    thread.start()
    thread.join()
    return result[0] if result else None


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(POSTGRES_URL.replace("+asyncpg", ""))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextmanager
def fresh_postgres_database(prefix: str = "ts_test") -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:16]}"
    _in_a_thread(_admin(f"CREATE DATABASE {name}"))
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        _in_a_thread(_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database, whatever TOKENSMITH_TEST_DATABASE says."""
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture
def database_url() -> Iterator[str | None]:
    """None on SQLite (the data folder's default); a fresh PostgreSQL database otherwise."""
    if TEST_DATABASE != "postgresql":
        yield None
        return
    with fresh_postgres_database() as url:
        yield url


def delete_redis_keys(prefix: str) -> None:
    with redis.Redis.from_url(REDIS_URL) as client:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)


@pytest.fixture
def redis_key_prefix() -> Iterator[str]:
    """A Redis key prefix of this test alone; its keys are deleted afterwards."""
    prefix = f"ts-test-{uuid.uuid4().hex[:16]}"
    try:
        yield prefix
    finally:
        delete_redis_keys(prefix)


@pytest.fixture
def make_settings(
    tmp_path: Path, database_url: str | None, request: pytest.FixtureRequest
) -> Callable[..., Settings]:
    """Settings over a fresh data folder (and database, and Redis prefix); keywords override."""
    redis_settings: dict[str, Any] = {}
    if TEST_REDIS:
        prefix = request.getfixturevalue("redis_key_prefix")
        redis_settings = {"redis_url": REDIS_URL, "redis_key_prefix": prefix}

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {**BASE_CONFIG, "data_dir": tmp_path / "data", **redis_settings}
        if database_url is not None:
            values["database_url"] = database_url
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
def make_client(make_settings: Callable[..., Settings]) -> Iterator[Callable[..., TestClient]]:
    """An in-process TestClient over create_app (lifespan run), for edge-case tests."""
    opened: list[TestClient] = []

    def make(services: Services | None = None, **overrides: Any) -> TestClient:
        app = create_app(make_settings(**overrides), services)
        client = TestClient(app, base_url="http://127.0.0.1:8000", raise_server_exceptions=False)
        client.__enter__()
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


@pytest.fixture(scope="session")
def test_process_postgres_url() -> Iterator[str]:
    """A PostgreSQL database of this test process's own for the whole run.

    The two test processes (pytest-xdist) drop and create the schema of the
    ``engine`` fixture's database for each test: in one shared database they
    raced (a type created twice, a table dropped under the other's test).
    """
    with fresh_postgres_database("ts_engine") as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """A real database with the schema, emptied for each test: SQLite and PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    else:
        url = request.getfixturevalue("test_process_postgres_url")
    engine = create_engine(url)
    if request.param == "postgresql":
        async with engine.begin() as connection:
            await connection.run_sync(metadata.drop_all)
            await connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    await create_schema(engine)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        yield engine
    finally:
        await engine.dispose()
