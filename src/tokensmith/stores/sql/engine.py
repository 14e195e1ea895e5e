"""Engine creation and schema set-up for SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def create_engine(
    database_url: str, *, pool_size: int | None = None, max_overflow: int | None = None
) -> AsyncEngine:
    """An async engine; SQLite gets WAL and a busy timeout so readers never block writers.

    ``pool_size`` and ``max_overflow`` size the connection pool of each process
    (PostgreSQL); None keeps SQLAlchemy's defaults (5 and 10).
    """
    options: dict[str, Any] = {"pool_pre_ping": database_url.startswith("postgres")}
    if pool_size is not None:
        options["pool_size"] = pool_size
    if max_overflow is not None:
        options["max_overflow"] = max_overflow
    engine = create_async_engine(database_url, **options)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


async def create_schema(engine: AsyncEngine) -> None:
    """Bring the database to the newest schema (Alembic): create it if empty, else upgrade."""
    from tokensmith.stores.sql.migrate import migrate

    await migrate(engine)
