"""Engine creation and schema set-up for SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any, Literal

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from tokensmith.stores.sql._per_loop import PerLoop

SqliteSynchronous = Literal["NORMAL", "FULL"]
POSTGRES_POOL_RECYCLE_SECONDS = 300


def create_engine(
    database_url: str,
    *,
    pool_size: int | None = None,
    max_overflow: int | None = None,
    sqlite_busy_timeout_ms: int = 5000,
    sqlite_synchronous: SqliteSynchronous = "NORMAL",
) -> AsyncEngine:
    """An async engine; SQLite gets WAL and a busy timeout so readers never block writers.

    ``pool_size`` and ``max_overflow`` size the connection pool of each process;
    None keeps SQLAlchemy's defaults (5 and 10).
    ``sqlite_busy_timeout_ms`` is how long a SQLite write waits for another
    process's write lock before failing (and the request answering 503).
    ``sqlite_synchronous`` is SQLite's fsync policy under WAL (docs/deployment.md).
    """
    options: dict[str, Any] = {}
    if database_url.startswith("postgres"):
        # No pool_pre_ping: it costs a SELECT 1 round trip per checkout, several per
        # request. Connections are replaced before idle-connection killers (NAT,
        # load balancers) usually strike; a connection cut anyway fails its one
        # request with 503 (endpoints/_rendering.py) and SQLAlchemy then discards
        # every pooled connection that was open at the time.
        options["pool_recycle"] = POSTGRES_POOL_RECYCLE_SECONDS
    else:
        # SQLAlchemy already ends every transaction itself (begin() commits or rolls
        # back, connect() rolls back on close); the pool's own reset would add one more
        # ROLLBACK, which through aiosqlite is one more thread hand-off per request.
        options["pool_reset_on_return"] = None
    if pool_size is not None:
        options["pool_size"] = pool_size
    if max_overflow is not None:
        options["max_overflow"] = max_overflow
    engine = create_async_engine(database_url, **options)
    if engine.dialect.name != "sqlite":
        return engine
    pragmas = partial(
        _sqlite_pragmas, busy_timeout_ms=sqlite_busy_timeout_ms, synchronous=sqlite_synchronous
    )
    event.listen(engine.sync_engine, "connect", pragmas)
    return SingleWriterEngine(engine.sync_engine)


class SingleWriterEngine(AsyncEngine):
    """SQLite: this process's write transactions (``begin()``) take turns on the event loop.

    SQLite has one write lock per database. Without this, the pool's connections
    of one process queue for it inside SQLite's busy handler, which sleeps up to
    100 ms between tries (p99 of a second under load) and fails past
    busy_timeout. Reads (``connect()``) still run side by side under WAL.
    """

    _write_lock: PerLoop[asyncio.Lock]

    def __init__(self, sync_engine: Any) -> None:
        super().__init__(sync_engine)
        self._write_lock = PerLoop(asyncio.Lock)

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        async with self._write_lock.get(), super().begin() as connection:
            yield connection


def _sqlite_pragmas(
    dbapi_connection: Any, _record: Any, *, busy_timeout_ms: int, synchronous: SqliteSynchronous
) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    # NORMAL under WAL: no fsync per commit, only at checkpoints. A crash of the
    # process loses nothing; a power cut may lose the last commits. FULL: fsync each.
    cursor.execute(f"PRAGMA synchronous={'FULL' if synchronous == 'FULL' else 'NORMAL'}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


async def create_schema(engine: AsyncEngine) -> None:
    """Bring the database to the newest schema (Alembic): create it if empty, else upgrade."""
    from tokensmith.stores.sql.migrate import migrate

    await migrate(engine)
