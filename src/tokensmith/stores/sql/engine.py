"""Engine creation and schema set-up for SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, nullcontext
from functools import partial
from pathlib import Path
from typing import Any, Literal, TypeVar

import orjson
from sqlalchemy import URL, Connection, Engine, event, make_url
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from tokensmith._per_loop import PerLoop
from tokensmith.helper_process import LoopHelper
from tokensmith.stores.sql.batching import SETTLE_TURNS
from tokensmith.stores.sql.checkpoint import WalCheckpointer
from tokensmith.stores.sql.process_sqlite import SqliteProcess
from tokensmith.stores.sql.write_turns import ProcessWriteTurns

SqliteSynchronous = Literal["NORMAL", "FULL"]
POSTGRES_POOL_RECYCLE_SECONDS = 300
WAL_AUTOCHECKPOINT_PAGES = 10_000
"""A commit checkpoints the WAL itself only past this many pages (~40 MB; SQLite's default
is 1,000). The checkpoint thread (checkpoint.py) copies pages while writes go on, but
under writes without a pause it never catches up with the last commit, and SQLite
starts the WAL over only after a checkpoint that did; this bounds the WAL then."""

SQLITE_READ_THREADS = 2
"""Threads reading SQLite for batched lookups; WAL lets them read while one writes."""

T = TypeVar("T")


def create_engine(
    database_url: str,
    *,
    pool_size: int | None = None,
    max_overflow: int | None = None,
    sqlite_busy_timeout_ms: int = 5000,
    sqlite_synchronous: SqliteSynchronous = "NORMAL",
    sqlite_process: bool = False,
) -> AsyncEngine:
    """An async engine; SQLite gets WAL and a busy timeout so readers never block writers.

    ``pool_size`` and ``max_overflow`` size the connection pool of each process;
    None keeps SQLAlchemy's defaults (5 and 10).
    ``sqlite_busy_timeout_ms`` is how long a SQLite write waits for another
    process's write lock before failing (and the request answering 503).
    ``sqlite_synchronous`` is SQLite's fsync policy under WAL (docs/deployment.md).
    ``sqlite_process``: batched inserts and consumes into a SQLite file are committed,
    and batched lookups read, by a child process of each event loop's
    (``process_sqlite.py``), on another core.
    """
    # JSON columns (a grant's data, a client's metadata) through orjson: the
    # standard json module took 5 of a token insert's ~18 us per row.
    options: dict[str, Any] = {"json_serializer": json_text, "json_deserializer": orjson.loads}
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
    url = make_url(database_url)
    database_file = _database_file(url)
    if database_file is None:  # in memory: another connection would see another database
        return SingleWriterEngine(engine.sync_engine, None)
    # The same file through the standard library's driver, for work done in one hand-off.
    threaded = create_sync_engine(
        url.set(drivername="sqlite+pysqlite"),
        pool_size=SQLITE_READ_THREADS + 2,  # the writer, the readers, the checkpointer
        pool_reset_on_return=None,
        json_serializer=json_text,
        json_deserializer=orjson.loads,
    )
    event.listen(threaded, "connect", pragmas)
    turns = ProcessWriteTurns(database_file, sqlite_busy_timeout_ms / 1000)
    single_writer = SingleWriterEngine(engine.sync_engine, threaded, turns)
    if sqlite_process:
        statements = sqlite_pragmas(sqlite_busy_timeout_ms, sqlite_synchronous)
        single_writer.use_sqlite_process(database_file, sqlite_busy_timeout_ms / 1000, statements)
    return single_writer


class SingleWriterEngine(AsyncEngine):
    """SQLite: this process's write transactions (``begin()``) take turns on the event loop.

    SQLite has one write lock per database. Without this, the pool's connections
    of one process queue for it inside SQLite's busy handler, which sleeps up to
    100 ms between tries (p99 of a second under load) and fails past
    busy_timeout. Reads (``connect()``) still run side by side under WAL.
    """

    _write_lock: PerLoop[asyncio.Lock]

    def __init__(
        self, sync_engine: Any, threaded: Engine | None, turns: ProcessWriteTurns | None = None
    ) -> None:
        super().__init__(sync_engine)
        self._turns = turns
        self._write_lock = PerLoop(asyncio.Lock)
        self._threaded = threaded
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="tokensmith-sqlite-write")
        self._readers = ThreadPoolExecutor(
            SQLITE_READ_THREADS, thread_name_prefix="tokensmith-sqlite-read"
        )
        self.checkpointer = WalCheckpointer(threaded) if threaded is not None else None
        self._sqlite_processes: PerLoop[LoopHelper[SqliteProcess]] | None = None

    def use_sqlite_process(self, database: Path, busy_timeout: float, pragmas: list[str]) -> None:
        """Let each event loop's batched inserts, consumes and lookups go to a SQLite process
        of its own."""

        def new_process() -> SqliteProcess:
            return SqliteProcess(database, busy_timeout, pragmas, self._wrote)

        self._sqlite_processes = PerLoop(lambda: LoopHelper(new_process))

    def sqlite_process(self) -> SqliteProcess | None:
        """This loop's SQLite process, when it takes work now (``use_sqlite_process``)."""
        if self._sqlite_processes is None:
            return None
        process = self._sqlite_processes.get().current(asyncio.get_running_loop())
        return process if process is not None and process.can_take(1) else None

    def _wrote(self) -> None:
        """A write was committed (here or by the SQLite process): tell the checkpointer."""
        if self.checkpointer is not None:
            self.checkpointer.wrote()

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        async with self._write_lock.get(), self._write_turn(), super().begin() as connection:
            yield connection
        self._wrote()

    @asynccontextmanager
    async def _write_turn(self) -> AsyncIterator[None]:
        """The write turns of ``write_turns.py`` while a SQLite process writes beside this
        one: without them, its back-to-back commits would leave this transaction in SQLite's
        sleeping busy handler. Taken on the writer thread (idle: the write lock is held),
        let go here (an flock and a lock, neither of which waits to be released)."""
        turns = self._turns if self._sqlite_processes is not None else None
        if turns is None:
            yield
            return
        taking = asyncio.get_running_loop().run_in_executor(self._writer, turns.__enter__)
        try:
            await asyncio.shield(taking)
        except asyncio.CancelledError:  # the thread takes it all the same: let go once it has
            taking.add_done_callback(partial(_let_go, turns))
            raise
        try:
            yield
        finally:
            turns.__exit__(None, None, None)

    @property
    def thread_engine(self) -> Engine | None:
        """The synchronous engine behind ``run_in_transaction`` and ``run_read`` (if any)."""
        return self._threaded

    async def run_in_transaction(self, work: Callable[[Connection], T]) -> T:
        """``work`` in one write transaction, run on a thread in one hand-off.

        Through aiosqlite each statement, fetch, commit and close is a hand-off
        between the event loop and the connection's thread; here the whole
        transaction is one, which is most of the cost of a small transaction.
        """
        if self._threaded is None:
            async with self.begin() as connection:
                return await connection.run_sync(work)
        try:
            async with self._write_lock.get():
                return await asyncio.get_running_loop().run_in_executor(
                    self._writer, _in_transaction, self._threaded, work, self._turns
                )
        finally:  # committed or not (a cancelled caller's commit goes on): check
            self._wrote()

    async def run_read(self, work: Callable[[Connection], T]) -> T:
        """``work`` on a connection of its own, run on a thread in one hand-off."""
        if self._threaded is None:
            async with self.connect() as connection:
                return await connection.run_sync(work)
        return await asyncio.get_running_loop().run_in_executor(
            self._readers, _on_connection, self._threaded, work
        )

    async def dispose(self, close: bool = True) -> None:
        if self._sqlite_processes is not None:
            await self._sqlite_processes.get().aclose()
        await super().dispose(close)
        if self.checkpointer is not None:
            self.checkpointer.stop()
        if self._turns is not None:
            self._turns.close()
        if self._threaded is not None:
            self._threaded.dispose(close)


def sqlite_process_of(engine: AsyncEngine) -> SqliteProcess | None:
    """``engine``'s SQLite process for this loop, when it has one that takes work now."""
    return engine.sqlite_process() if isinstance(engine, SingleWriterEngine) else None


def _let_go(turns: ProcessWriteTurns, taken: asyncio.Future[Any]) -> None:
    if not taken.cancelled() and taken.exception() is None:
        turns.__exit__(None, None, None)


def sqlite_file(database_url: str) -> Path | None:
    """The file of a SQLite database URL; None for PostgreSQL or a database in memory."""
    url = make_url(database_url)
    return _database_file(url) if url.get_backend_name() == "sqlite" else None


def _database_file(url: URL) -> Path | None:
    """The SQLite database's file (a ``file:`` URI's path too); None when it is in memory."""
    database = url.database or ""
    if database.startswith("file:"):
        if url.query.get("mode") == "memory":
            return None
        database = database.removeprefix("file:")
    return None if database in ("", ":memory:") else Path(database)


def json_text(value: Any) -> str:
    """A JSON column's value as the text stored for it (orjson; dict keys need not be str)."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _in_transaction(
    engine: Engine, work: Callable[[Connection], T], turns: ProcessWriteTurns | None = None
) -> T:
    with turns if turns is not None else nullcontext(), engine.begin() as connection:
        return work(connection)


def _on_connection(engine: Engine, work: Callable[[Connection], T]) -> T:
    with engine.connect() as connection:  # closing it ends the read transaction
        return work(connection)


async def run_in_transaction(engine: AsyncEngine, work: Callable[[Connection], T]) -> T:
    """``work`` (plain synchronous SQLAlchemy) in one transaction of ``engine``.

    On SQLite in a single hand-off to a thread; on PostgreSQL through the async
    driver, where each statement is a network round trip anyway.
    """
    if isinstance(engine, SingleWriterEngine):
        return await engine.run_in_transaction(work)
    async with engine.begin() as connection:
        return await connection.run_sync(work)


def thread_settle_turns(engine: AsyncEngine) -> int:
    """``Batcher(settle_turns=...)`` for batched writes to ``engine``.

    SETTLE_TURNS where ``run_in_transaction`` hands the work to the writer
    thread (SQLite on a file), whose wait for the interpreter lock costs
    wake-ups (batching.py). 0 otherwise: PostgreSQL's driver runs on the event
    loop, so a round trip starting at once waits for nothing; an in-memory
    SQLite database goes through aiosqlite's thread, a statement at a time,
    and serves tests and trials, not load. Batched reads keep 0 too: measured,
    settling did not change introspection.
    """
    if isinstance(engine, SingleWriterEngine) and engine.thread_engine is not None:
        return SETTLE_TURNS
    return 0


async def run_read(engine: AsyncEngine, work: Callable[[Connection], T]) -> T:
    """``work`` on a connection of ``engine`` that writes nothing (see ``run_in_transaction``)."""
    if isinstance(engine, SingleWriterEngine):
        return await engine.run_read(work)
    async with engine.connect() as connection:
        return await connection.run_sync(work)


def sqlite_pragmas(busy_timeout_ms: int, synchronous: SqliteSynchronous) -> list[str]:
    """The PRAGMA statements every SQLite connection runs first (the SQLite process's too)."""
    return [
        "PRAGMA journal_mode=WAL",
        f"PRAGMA busy_timeout={int(busy_timeout_ms)}",
        # NORMAL under WAL: no fsync per commit, only at checkpoints. A crash of the
        # process loses nothing; a power cut may lose the last commits. FULL: fsync each.
        f"PRAGMA synchronous={'FULL' if synchronous == 'FULL' else 'NORMAL'}",
        "PRAGMA foreign_keys=ON",
        # Checkpoints run on a thread of their own, not inside every ~30th commit
        # (checkpoint.py); a commit checkpoints only once the WAL is this long.
        f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}",
    ]


def _sqlite_pragmas(
    dbapi_connection: Any, _record: Any, *, busy_timeout_ms: int, synchronous: SqliteSynchronous
) -> None:
    cursor = dbapi_connection.cursor()
    for statement in sqlite_pragmas(busy_timeout_ms, synchronous):
        cursor.execute(statement)
    cursor.close()


async def create_schema(engine: AsyncEngine) -> None:
    """Bring the database to the newest schema (Alembic): create it if empty, else upgrade."""
    from tokensmith.stores.sql.migrate import migrate

    await migrate(engine)


def sync_engines(engine: AsyncEngine) -> list[Engine]:
    """Every synchronous engine that runs ``engine``'s statements (for event listeners)."""
    thread_engine = engine.thread_engine if isinstance(engine, SingleWriterEngine) else None
    return [engine.sync_engine, *([thread_engine] if thread_engine is not None else [])]
