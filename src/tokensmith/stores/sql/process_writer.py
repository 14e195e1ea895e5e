"""ProcessWriter: a worker's side of its SQLite write process (``write_process.py``).

One per event loop and engine, started by ``SingleWriterEngine`` on the loop's
first insert when the ``sqlite_write_process`` setting is on. ``GroupCommit``
hands it rows whose statement the driver takes as they are (``DriverInsert``):
the rows of one turn of the event loop go to the child in one write, and each
caller returns once the child says its row is committed, or raises what the
database said: ``IntegrityError`` for a row a constraint refused (the others
of the batch are written), ``OperationalError`` and its kin for a batch that
was not.

Until the child is ready, and whenever it has too many batches unanswered,
``GroupCommit`` writes on the worker's writer thread as before. A row not yet
sent when the child ended gets ``NotWritten``, and ``GroupCommit`` writes it on
the thread. A batch sent and not answered when the child ended (killed, hung
past ``answer_seconds``) may or may not have been committed: its callers get
``OperationalError``, a 503 asking the client to try again, as a lost database
connection would give.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import orjson
from sqlalchemy import exc as db

from tokensmith.helper_process import HelperProcess
from tokensmith.stores.sql import write_process
from tokensmith.stores.sql.write_process import (
    INSERT,
    OPEN,
    REQUEST,
    ROWS,
    STATEMENT,
    WRITTEN,
)

__all__ = ["NotWritten", "ProcessWriter"]

logger = logging.getLogger(__name__)

InFlight = tuple[str, list["asyncio.Future[None]"]]
"""An INSERT frame sent: its SQL, and its rows' callers in order."""

_ERRORS: dict[str, tuple[type[db.DBAPIError], type[sqlite3.Error]]] = {
    "OperationalError": (db.OperationalError, sqlite3.OperationalError),
    "IntegrityError": (db.IntegrityError, sqlite3.IntegrityError),
    "DataError": (db.DataError, sqlite3.DataError),
    "ProgrammingError": (db.ProgrammingError, sqlite3.ProgrammingError),
    "InterfaceError": (db.InterfaceError, sqlite3.InterfaceError),
}
"""A failure the child names, as the SQLAlchemy error the thread's write would raise."""


class NotWritten(Exception):
    """The write process ended before this row was sent: write it another way."""


class ProcessWriter(HelperProcess[InFlight]):
    script: ClassVar[str] = write_process.__file__
    what: ClassVar[str] = "the SQLite write process"
    unanswered: ClassVar[str] = "%d batches unanswered, which may or may not be committed"
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

    async def start(self) -> None:
        await super().start()
        if not self.ended:
            self.write(REQUEST.pack(OPEN, 0, 0, len(self._opening)) + self._opening)

    def insert(self, sql: str, row: tuple[Any, ...]) -> asyncio.Future[None]:
        """A future set once ``row`` is committed; the turn's rows go to the child together.

        A row that cannot be sent (a value JSON cannot carry) raises here, for its caller.
        """
        encoded = orjson.dumps(row)
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        if not self._pending:
            loop.call_soon(self._send_pending)
        self._pending.append((sql, encoded, done))
        return done

    def _send_pending(self) -> None:
        pending, self._pending = self._pending, []
        try:
            if not self.taking:  # it ended, or is being closed: nothing was sent
                _settle(pending, NotWritten())
                return
            self._send(pending)
        except BaseException as exc:  # nobody of the turn is left waiting
            _settle(pending, exc if isinstance(exc, Exception) else NotWritten())
            raise

    def _send(self, pending: list[tuple[str, bytes, asyncio.Future[None]]]) -> None:
        by_statement: dict[str, list[tuple[bytes, asyncio.Future[None]]]] = {}
        for sql, encoded, done in pending:
            if not done.cancelled():
                by_statement.setdefault(sql, []).append((encoded, done))
        frames: list[bytes] = []
        sent: list[InFlight] = []
        sequence = self.next_sequence
        for sql, calls in by_statement.items():
            slot = self._slots.get(sql)
            if slot is None:
                slot = self._slots[sql] = len(self._slots)
                text = sql.encode()
                frames += (REQUEST.pack(STATEMENT, slot, 0, len(text)), text)
            body = b"[" + b",".join(encoded for encoded, _ in calls) + b"]"
            frames += (REQUEST.pack(INSERT, slot, sequence & 0xFFFFFFFF, len(body)), body)
            sent.append((sql, [done for _, done in calls]))
            sequence += 1
        self.send(sent, b"".join(frames))

    def on_answer(self, item: InFlight, status: int, body: bytes) -> None:
        sql, callers = item
        if status != WRITTEN and status != ROWS:
            error = _database_error(sql, body.decode(errors="replace"))
            for done in callers:
                if not done.done():
                    done.set_exception(error)
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
    for sql, callers in unanswered:
        error = _database_error(
            sql, "OperationalError: the SQLite write process ended before answering"
        )
        for done in callers:
            if not done.done():
                done.set_exception(error)


def _settle(pending: list[tuple[str, bytes, asyncio.Future[None]]], error: Exception) -> None:
    for _, _, done in pending:
        if not done.done():
            done.set_exception(error)
