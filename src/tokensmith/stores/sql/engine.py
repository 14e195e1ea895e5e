"""Engine creation and schema set-up for SQLite and PostgreSQL."""

from __future__ import annotations

from functools import partial
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def create_engine(
    database_url: str,
    *,
    pool_size: int | None = None,
    max_overflow: int | None = None,
    sqlite_busy_timeout_ms: int = 5000,
) -> AsyncEngine:
    """An async engine; SQLite gets WAL and a busy timeout so readers never block writers.

    ``pool_size`` and ``max_overflow`` size the connection pool of each process
    (PostgreSQL); None keeps SQLAlchemy's defaults (5 and 10).
    ``sqlite_busy_timeout_ms`` is how long a SQLite write waits for another
    process's write lock before failing (and the request answering 503).
    """
    options: dict[str, Any] = {"pool_pre_ping": database_url.startswith("postgres")}
    if pool_size is not None:
        options["pool_size"] = pool_size
    if max_overflow is not None:
        options["max_overflow"] = max_overflow
    engine = create_async_engine(database_url, **options)
    if engine.dialect.name == "sqlite":
        pragmas = partial(_sqlite_pragmas, busy_timeout_ms=sqlite_busy_timeout_ms)
        event.listen(engine.sync_engine, "connect", pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, *, busy_timeout_ms: int) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


async def create_schema(engine: AsyncEngine) -> None:
    """Bring the database to the newest schema (Alembic): create it if empty, else upgrade."""
    from tokensmith.stores.sql.migrate import migrate

    await migrate(engine)
