"""SqliteProcess: a worker's side of its SQLite process (``sqlite_process.py``).

One per event loop and engine, started by ``SingleWriterEngine`` on the loop's
first insert or lookup when the ``sqlite_process`` setting is on. ``GroupCommit``
hands it rows whose statement the driver takes as they are (``DriverInsert``):
the rows of one turn of the event loop go to the child in one write, and each
caller returns once the child says its row is committed, or raises what the
database said: ``IntegrityError`` for a row a constraint refused (the others
of the batch are written), ``OperationalError`` and its kin for a batch that
was not. ``KeyedLookup`` hands it keys (``find``) for tables whose rows the
driver gives back as they are (``DriverSelect``): a turn's keys go in one
SELECT, which sees every write committed before it was sent. ``SqlGrantStore`` hands it
consumes (``update``: an UPDATE ... RETURNING, ``DriverUpdate``), committed in
the turn's transaction with its inserts.

Until the child is ready, and whenever it has too many batches unanswered,
``GroupCommit`` writes on the worker's writer thread and ``KeyedLookup`` reads
on its reader thread, as before. A row or key not yet sent when the child ended
gets ``NotSent``, and goes to the thread. A batch of inserts or an update sent
and not answered when the child ended (killed, hung past ``answer_seconds``)
may or may not have been committed: its callers get ``OperationalError``, a 503
asking the client to try again, as a lost database connection would give; a
lookup sent and not answered is read again on the reader thread.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import orjson
from sqlalchemy import exc as db

from tokensmith.helper_process import HelperProcess
from tokensmith.stores.sql import sqlite_process
from tokensmith.stores.sql.sqlite_process import (
    FOUND,
    INSERT,
    OPEN,
    REQUEST,
    ROWS,
    SELECT,
    STATEMENT,
    UPDATE,
    WRITTEN,
)

if TYPE_CHECKING:
    from tokensmith.stores.sql.lookups import DriverSelect, DriverUpdate

__all__ = ["NotSent", "SqliteProcess"]

logger = logging.getLogger(__name__)

InFlight = tuple[str, list["asyncio.Future[Any]"], "DriverSelect | DriverUpdate | None", list[str]]
"""A frame sent: its SQL, its callers in order, for a SELECT the statement and each
caller's key, for an UPDATE the statement (an INSERT: None and no keys)."""

MAX_KEYS = 500
"""Keys per SELECT frame at most (SQLite allows 32,766 parameters)."""

_ERRORS: dict[str, tuple[type[db.DBAPIError], type[sqlite3.Error]]] = {
    "OperationalError": (db.OperationalError, sqlite3.OperationalError),
    "IntegrityError": (db.IntegrityError, sqlite3.IntegrityError),
    "DataError": (db.DataError, sqlite3.DataError),
    "ProgrammingError": (db.ProgrammingError, sqlite3.ProgrammingError),
    "InterfaceError": (db.InterfaceError, sqlite3.InterfaceError),
}
"""A failure the child names, as the SQLAlchemy error the thread's write would raise."""


class NotSent(Exception):
    """The process ended before this row or key was sent: write or read it another way."""


class SqliteProcess(HelperProcess[InFlight]):
    script: ClassVar[str] = sqlite_process.__file__
    what: ClassVar[str] = "the SQLite process"
    unanswered: ClassVar[str] = (
        "%d batches unanswered (inserts and consumes may or may not be committed; "
        "lookups are read again)"
    )
    max_in_flight: ClassVar[int] = 64

    def __init__(
        self, database: Path, busy_timeout: float, pragmas: list[str], wrote: Callable[[], None]
    ) -> None:
        """``wrote``: called after each commit (the engine's WAL checkpointer)."""
        super().__init__(_fail_unanswered, logger)
        self._opening = orjson.dumps([str(database), busy_timeout, pragmas])
        self._wrote = wrote
        # The child waits up to the busy timeout for its turn and as long again for
        # SQLite's lock, twice when a constraint sends it row by row; only silence well
        # past that means it is stuck.
        self.answer_seconds = 4 * busy_timeout + 5.0
        self._slots: dict[str, int] = {}
        self._pending: list[tuple[str, bytes, asyncio.Future[None]]] = []
        self._lookups: list[tuple[DriverSelect, str, bytes, asyncio.Future[Any]]] = []
        self._updates: list[tuple[DriverUpdate, bytes, asyncio.Future[Any]]] = []

    async def start(self) -> None:
        await super().start()
        if not self.ended:
            self.write(REQUEST.pack(OPEN, 0, 0, len(self._opening)) + self._opening)

    def insert(self, sql: str, row: tuple[Any, ...]) -> asyncio.Future[None]:
        """A future set once ``row`` is committed; the turn's rows go to the child together.

        A row that cannot be sent (a value JSON cannot carry) raises here, for its caller.
        """
        encoded = orjson.dumps(row)
        done: asyncio.Future[None] = self._next_call()
        self._pending.append((sql, encoded, done))
        return done

    def find(self, select: DriverSelect, key: str) -> asyncio.Future[dict[str, Any] | None]:
        """A future set to the row whose key column is ``key`` (or None), read after every
        write committed before this call; the turn's keys go to the child together.

        A key that cannot be sent (not JSON text) raises here, for its caller.
        """
        encoded = orjson.dumps(key)
        found: asyncio.Future[dict[str, Any] | None] = self._next_call()
        self._lookups.append((select, key, encoded, found))
        return found

    def update(
        self, statement: DriverUpdate, parameters: list[Any]
    ) -> asyncio.Future[list[dict[str, Any]]]:
        """A future set to the rows ``statement`` returned once committed, in the turn's
        transaction with its inserts (``parameters`` in the SQL's order, its list among
        them). The turn's updates of one statement go in one frame, a run each.

        Parameters that cannot be sent (values JSON cannot carry) raise here.
        """
        encoded = orjson.dumps(parameters)
        done: asyncio.Future[list[dict[str, Any]]] = self._next_call()
        self._updates.append((statement, encoded, done))
        return done

    def _next_call(self) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        if not self._pending and not self._lookups and not self._updates:
            loop.call_soon(self._send_pending)
        return loop.create_future()

    def _send_pending(self) -> None:
        pending, self._pending = self._pending, []
        lookups, self._lookups = self._lookups, []
        updates, self._updates = self._updates, []
        calls = (
            [done for _, _, done in pending]
            + [found for *_, found in lookups]
            + [done for _, _, done in updates]
        )
        try:
            if not self.taking:  # it ended, or is being closed: nothing was sent
                _settle(calls, NotSent())
                return
            self._send(pending, lookups, updates)
        except BaseException as exc:  # nobody of the turn is left waiting
            _settle(calls, exc if isinstance(exc, Exception) else NotSent())
            raise

    def _send(
        self,
        pending: list[tuple[str, bytes, asyncio.Future[None]]],
        lookups: list[tuple[DriverSelect, str, bytes, asyncio.Future[Any]]],
        updates: list[tuple[DriverUpdate, bytes, asyncio.Future[Any]]],
    ) -> None:
        """The turn's lookups, then its inserts and updates, in one write: the child
        answers the lookups first, without waiting for the writes' transaction."""
        frames: list[bytes] = []
        sent: list[InFlight] = []
        selects: dict[DriverSelect, list[tuple[str, bytes, asyncio.Future[Any]]]] = {}
        for select, key, encoded, found in lookups:
            if not found.cancelled():
                selects.setdefault(select, []).append((key, encoded, found))
        for select, asked in selects.items():
            for at in range(0, len(asked), MAX_KEYS):
                part = asked[at : at + MAX_KEYS]
                unique = {key: encoded for key, encoded, _ in part}
                body = b"[" + b",".join(unique.values()) + b"]"
                self._frame(frames, SELECT, select.sql, len(sent), body)
                keys = [key for key, _, _ in part]
                sent.append((select.sql, [found for *_, found in part], select, keys))
        # One frame per statement: an INSERT's rows, or an UPDATE's runs, as a JSON array.
        writes: dict[tuple[bytes, str, DriverUpdate | None], list[tuple[bytes, Any]]] = {}
        for kind, sql, statement, encoded, done in [
            *((INSERT, sql, None, encoded, done) for sql, encoded, done in pending),
            *((UPDATE, update.sql, update, encoded, done) for update, encoded, done in updates),
        ]:
            if not done.cancelled():
                writes.setdefault((kind, sql, statement), []).append((encoded, done))
        for (kind, sql, statement), queued in writes.items():
            body = b"[" + b",".join(encoded for encoded, _ in queued) + b"]"
            self._frame(frames, kind, sql, len(sent), body)
            sent.append((sql, [done for _, done in queued], statement, []))
        self.send(sent, b"".join(frames))

    def _frame(self, frames: list[bytes], kind: bytes, sql: str, nth: int, body: bytes) -> None:
        """Append a request frame (the ``nth`` of this write) and, the first time, its SQL."""
        slot = self._slots.get(sql)
        if slot is None:
            slot = self._slots[sql] = len(self._slots)
            text = sql.encode()
            frames += (REQUEST.pack(STATEMENT, slot, 0, len(text)), text)
        sequence = (self.next_sequence + nth) & 0xFFFFFFFF
        frames += (REQUEST.pack(kind, slot, sequence, len(body)), body)

    def on_answer(self, item: InFlight, status: int, body: bytes) -> None:
        sql, callers, statement, keys = item
        if statement is not None:  # a SELECT's or an UPDATE's rows
            if status != FOUND:
                _settle(callers, _database_error(sql, body.decode(errors="replace")))
                return
            if statement.frame == UPDATE:
                self._wrote()
            try:
                statement.answer(callers, keys, orjson.loads(body))
            except Exception as exc:  # rows this worker cannot read: this frame's error
                # An UPDATE's is committed: like an unanswered one, a 503 (retry) then.
                error = "OperationalError" if statement.frame == UPDATE else "DataError"
                _settle(callers, _database_error(sql, f"{error}: unreadable answer: {exc}"))
            return
        if status not in (WRITTEN, ROWS):
            _settle(callers, _database_error(sql, body.decode(errors="replace")))
            return
        self._wrote()
        refused = orjson.loads(body) if status == ROWS else [None] * len(callers)
        for done, reason in zip(callers, refused, strict=True):
            if done.done():  # cancelled meanwhile; its row is written all the same
                continue
            if reason is None:
                done.set_result(None)
            else:
                done.set_exception(_database_error(sql, f"IntegrityError: {reason}"))


def _database_error(sql: str, failure: str) -> db.DBAPIError:
    """The child's "ClassName: message" as SQLAlchemy's error wrapping the driver's."""
    name, _, message = failure.partition(": ")
    error, driver_error = _ERRORS.get(name, (db.DatabaseError, sqlite3.DatabaseError))
    return error(sql, None, driver_error(message))


def _fail_unanswered(unanswered: list[InFlight]) -> None:
    """Inserts: a 503, committed or not; lookups, which change nothing: asked again on the
    reader thread (``NotSent``)."""
    for sql, callers, statement, _keys in unanswered:
        ended = "OperationalError: the SQLite process ended before answering"
        lookup = statement is not None and statement.frame == SELECT
        _settle(callers, NotSent() if lookup else _database_error(sql, ended))


def _settle(calls: list[asyncio.Future[Any]], error: Exception) -> None:
    for done in calls:
        if not done.done():
            done.set_exception(error)
