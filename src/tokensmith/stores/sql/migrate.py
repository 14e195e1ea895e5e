"""Schema migrations with Alembic, run in-process on an async engine.

``migrate`` brings any database to the newest schema: an empty one is
created from scratch (first start), an older one is upgraded in place. A
database made before migrations existed (tables but no alembic_version) is
stamped at the first revision and then upgraded.
"""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine

SCRIPT_LOCATION = "tokensmith.stores:migrations"
FIRST_REVISION = "0001"


def alembic_config(connection: Any) -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.attributes["connection"] = connection
    return config


async def migrate(engine: AsyncEngine, revision: str = "head") -> None:
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade, revision)


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as connection:
        return await connection.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )


def _upgrade(connection: Any, revision: str) -> None:
    config = alembic_config(connection)
    tables = set(inspect(connection).get_table_names())
    if "clients" in tables and "alembic_version" not in tables:
        command.stamp(config, FIRST_REVISION)
    command.upgrade(config, revision)
