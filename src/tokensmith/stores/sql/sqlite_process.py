"""The SQLite process: a worker's batched inserts, consumes and lookups, run on another core.

Every opaque access token, refresh token and code is a row inserted before its
response goes out (``group_commit.py``), and every code and refresh token
redeemed is a row updated (consumed) before anything is issued for it. On the
worker's writer thread such a write holds the interpreter lock for SQLAlchemy's
and the driver's Python, and under load the loop waits for the commit with
every connection's request in the batch: with one worker on two cores, a fifth
of the worker's time went to waiting (docs/performance.md). A child process
has an interpreter lock of its own. The worker sends it the rows and consumes
of each event-loop turn in one write, the child commits everything that has
arrived by the time it reads (one transaction: ``executemany`` per insert
statement, an UPDATE per consume) and answers each frame, and the worker's
loop goes on serving requests meanwhile. Lookups by key (a token's record at
introspection, on the token endpoint) are read here the same way, the keys of
a turn in one SELECT per table, before the read's writes: a lookup sees what
was committed before it was sent.

This module is the wire format both sides share and the child's main loop
(``main``, run as ``python -P .../tokensmith/stores/sql/sqlite_process.py``, so
that the child imports the standard library only); ``process_sqlite.py`` is
the worker's side and ``helper_process.py`` the protocol both children follow.
Frames to the child, on its stdin, are a ``REQUEST`` header and a body:

- ``OPEN``, first: the body is JSON of (database file, busy timeout in
  seconds, the connection's PRAGMA statements). The child writes ``READY``
  once the database is open; one that cannot open it ends, and the worker
  writes as before.
- ``STATEMENT``: the body is an INSERT's SQL in the driver's form (``?``
  placeholders), a SELECT's up to and including its ``IN``, or an UPDATE's
  (below), for the slot.
  Nothing is answered.
- ``INSERT``: the body is JSON of a list of rows (arrays of strings, integers,
  numbers and nulls) for the slot's statement. Answered ``WRITTEN`` (no body) once
  committed; ``ROWS`` (JSON of one entry per row: None when written,
  else why the database refused it) when a constraint refused some rows, the
  others written; ``FAILED`` (the error's class name, a colon and its message)
  when none was written.
- ``SELECT``: the body is JSON of a list of keys for the slot's SELECT, which
  gets one ``?`` per key. Answered ``FOUND`` with JSON of the rows found (arrays
  in the SELECT's column order), or ``FAILED``.
- ``UPDATE``: the body is JSON of a list of parameter lists for the slot's
  UPDATE ... RETURNING, one run of the statement each; each list has the
  statement's parameters in order, one of them a list: the SQL holds one
  ``(?*)``, which gets one ``?`` per item of that list (``KEY_LIST``). Answered
  ``FOUND`` with JSON of one list of returned rows per run, once committed, or
  ``FAILED``. A refresh token or a code is consumed this way: marked used if
  nobody has, and handed back if so.

The frames of one read are answered in their order; its selects run first,
then its inserts and updates are written in one transaction
(``Database.answer``). Each transaction takes the write turns of
``write_turns.py`` first, as the worker's own writer thread does (the file is
loaded by its path, not through the tokensmith package).
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import sqlite3
import struct
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

__all__ = [
    "ANSWER",
    "FAILED",
    "FOUND",
    "INSERT",
    "KEY_LIST",
    "OPEN",
    "READY",
    "REQUEST",
    "ROWS",
    "SELECT",
    "STATEMENT",
    "UPDATE",
    "WRITTEN",
    "Database",
    "main",
]

REQUEST = struct.Struct(">cHII")
"""A frame's header: its kind, the statement's slot, the ``INSERT``, ``SELECT`` or ``UPDATE``
frame's sequence number (0, 1, 2, ... modulo 2**32; 0 for the others), the body's length."""
ANSWER = struct.Struct(">BII")
"""An answer's header: ``WRITTEN``, ``ROWS``, ``FOUND`` or ``FAILED``, the request frame's
sequence number, the body's length (``helper_process.ANSWER``)."""
OPEN = b"O"
STATEMENT = b"Q"
INSERT = b"I"
SELECT = b"S"
UPDATE = b"U"
READY = b"R"
WRITTEN = 0
ROWS = 1
FAILED = 2
FOUND = 3

KEY_LIST = "(?*)"
"""Where an ``UPDATE`` statement's list parameter goes, one ``?`` per item."""

Write = tuple[bytes, int, int, Any]
"""An ``INSERT`` or ``UPDATE`` frame: its kind, sequence number, slot and decoded body."""


def main() -> None:
    """Answer frames from stdin on stdout until stdin ends."""
    # Ctrl-C in a terminal, or a service manager's SIGTERM, reaches the whole process
    # group; the worker decides when this ends (it closes our stdin, or kills us).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    database: Database | None = None
    statements: dict[int, str] = {}
    unread = b""
    answers = sys.stdout.buffer  # its write() writes all, however the pipe takes it
    while chunk := os.read(0, 1 << 16):
        frames, unread = whole_frames(unread + chunk)
        asked: list[tuple[bytes, int, int, Any]] = []
        for kind, slot, sequence, body in frames:
            if kind == OPEN:
                database = Database(*json.loads(body))
                answers.write(READY)  # the database is open: send rows
                answers.flush()
            elif kind == STATEMENT:
                statements[slot] = body.decode()
            elif database is not None:
                asked.append((kind, sequence, slot, json.loads(body)))
            else:
                raise SystemExit("SQLite process: a request came before OPEN")
        if asked:
            assert database is not None
            database.answer(asked, statements, answers.write, answers.flush)
            answers.flush()


def whole_frames(data: bytes) -> tuple[list[tuple[bytes, int, int, bytes]], bytes]:
    """``data``'s whole frames (kind, slot, sequence, body), and the rest of one not yet whole."""
    frames = []
    at = 0
    while len(data) - at >= REQUEST.size:
        kind, slot, sequence, length = REQUEST.unpack_from(data, at)
        end = at + REQUEST.size + length
        if end > len(data):
            break
        frames.append((kind, slot, sequence, data[at + REQUEST.size : end]))
        at = end
    return frames, data[at:]


class Database:
    """The child's connection: the lookups and the one transaction of a read's frames."""

    def __init__(self, database: str, busy_timeout: float, pragmas: list[str]) -> None:
        # Autocommit mode: the transactions below are spelt out.
        self.connection = sqlite3.connect(database, isolation_level=None)
        for pragma in pragmas:
            self.connection.execute(pragma)
        self._turns = _write_turns(Path(database), busy_timeout)

    def answer_in_order(
        self, asked: list[tuple[bytes, int, int, Any]], statements: dict[int, str]
    ) -> list[bytes]:
        """One answer per ``INSERT`` or ``SELECT`` frame, in their order (see ``answer``)."""
        answers: list[bytes] = []
        self.answer(asked, statements, answers.append)
        return answers

    def answer(
        self,
        asked: list[tuple[bytes, int, int, Any]],
        statements: dict[int, str],
        send: Callable[[bytes], object],
        flush: Callable[[], object] = lambda: None,
    ) -> None:
        """``send`` one answer per frame, in their order.

        The selects run first, before the writes' transaction: a lookup need see only
        what was committed before it was sent, and no write of this read was (none is
        answered yet). Answers to the selects that come before the first write go out
        (``flush``) before the transaction, so a lookup never waits for a write.
        """
        found = {
            sequence: self.found(sequence, statements.get(slot), keys)
            for kind, sequence, slot, keys in asked
            if kind == SELECT
        }
        writes = [frame for frame in asked if frame[0] != SELECT]
        first_write = next((n for n, (kind, *_) in enumerate(asked) if kind != SELECT), None)
        for _kind, sequence, _, _ in asked[:first_write]:
            send(found[sequence])
        if first_write is None:
            return
        flush()
        written = iter(self.answers(writes, statements))
        for kind, sequence, _, _ in asked[first_write:]:
            send(found[sequence] if kind == SELECT else next(written))

    def found(self, sequence: int, query: str | None, keys: list[Any]) -> bytes:
        """``FOUND`` with the rows of ``query`` (a SELECT ending in ``IN``) for ``keys``."""
        try:
            if query is None:
                raise KeyError("no SELECT in this slot")
            placeholders = "(" + ",".join("?" * len(keys)) + ")"
            rows = self.connection.execute(query + placeholders, keys).fetchall()
            # allow_nan=False: a REAL infinity would be JSON the worker cannot read.
            body = json.dumps(rows, allow_nan=False).encode()
        except Exception as exc:
            return _failed([sequence], exc)[0]
        return ANSWER.pack(FOUND, sequence, len(body)) + body

    def answers(self, writes: list[Write], statements: dict[int, str]) -> list[bytes]:
        """Run every ``INSERT`` and ``UPDATE`` of ``writes`` in one transaction, in their
        order; one answer per frame."""
        try:
            with self._transaction():
                answers = [
                    self._updated(sequence, statements[slot], body)
                    if kind == UPDATE
                    else self._inserted(sequence, statements[slot], body)
                    for kind, sequence, slot, body in writes
                ]
        except sqlite3.IntegrityError:
            return self._answers_row_by_row(writes, statements)
        except Exception as exc:  # the database's, or a value it cannot take: this read's
            return _failed([sequence for _, sequence, _, _ in writes], exc)
        return answers

    def _inserted(self, sequence: int, sql: str, rows: list[list[Any]]) -> bytes:
        self.connection.executemany(sql, rows)
        return ANSWER.pack(WRITTEN, sequence, 0)

    def _updated(self, sequence: int, sql: str, runs: list[list[Any]]) -> bytes:
        """``FOUND`` with the rows each run of the UPDATE ... RETURNING returned."""
        returned = []
        for parameters in runs:
            lists = [parameter for parameter in parameters if isinstance(parameter, list)]
            if len(lists) != 1 or sql.count(KEY_LIST) != 1:
                raise ValueError("an UPDATE needs one list parameter and one (?*) in its SQL")
            flat: list[Any] = []
            for parameter in parameters:
                flat += parameter if isinstance(parameter, list) else [parameter]
            items = len(lists[0])
            expanded = sql.replace(KEY_LIST, "(" + ",".join("?" * items) + ")", 1)
            returned.append(self.connection.execute(expanded, flat).fetchall())
        # In the transaction: rows the worker could not read roll the update back.
        body = json.dumps(returned, allow_nan=False).encode()
        return ANSWER.pack(FOUND, sequence, len(body)) + body

    def _answers_row_by_row(self, writes: list[Write], statements: dict[int, str]) -> list[bytes]:
        """A constraint refused a row: which? Each row under a savepoint of its own, so the
        others are still written, in one transaction (updates run as they are)."""
        answers: list[bytes] = []
        try:
            with self._transaction():
                for kind, sequence, slot, body in writes:
                    if kind == UPDATE:
                        answers.append(self._update_alone(sequence, statements[slot], body))
                        continue
                    refused = [self._insert_alone(statements[slot], row) for row in body]
                    if any(reason is not None for reason in refused):
                        reasons = json.dumps(refused).encode()
                        answers.append(ANSWER.pack(ROWS, sequence, len(reasons)) + reasons)
                    else:
                        answers.append(ANSWER.pack(WRITTEN, sequence, 0))
        except Exception as exc:
            return _failed([sequence for _, sequence, _, _ in writes], exc)
        return answers

    def _update_alone(self, sequence: int, sql: str, runs: list[list[Any]]) -> bytes:
        """An UPDATE frame under a savepoint of its own: its failure is its own ``FAILED``
        (the inserts beside it are not refused for it)."""
        self.connection.execute("SAVEPOINT frame")
        try:
            return self._updated(sequence, sql, runs)
        except Exception as exc:
            self.connection.execute("ROLLBACK TO frame")
            return _failed([sequence], exc)[0]
        finally:
            self.connection.execute("RELEASE frame")

    def _insert_alone(self, sql: str, row: list[Any]) -> str | None:
        self.connection.execute("SAVEPOINT row")
        try:
            self.connection.execute(sql, row)
        except sqlite3.IntegrityError as exc:
            self.connection.execute("ROLLBACK TO row")
            return str(exc)
        finally:
            self.connection.execute("RELEASE row")
        return None

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._turns:
            # IMMEDIATE: the write lock now, waiting up to busy_timeout, not at the first row.
            self.connection.execute("BEGIN IMMEDIATE")
            try:
                yield
                self.connection.execute("COMMIT")
            except BaseException:
                if self.connection.in_transaction:  # a failed COMMIT leaves it open
                    self.connection.execute("ROLLBACK")
                raise


def _failed(sequences: list[int], exc: Exception) -> list[bytes]:
    """``FAILED`` for each of these frames, with ``exc``'s class name and message."""
    reason = f"{type(exc).__name__}: {exc}".encode()
    return [ANSWER.pack(FAILED, sequence, len(reason)) + reason for sequence in sequences]


def _write_turns(database: Path, timeout: float) -> AbstractContextManager[Any]:
    """``write_turns.ProcessWriteTurns`` for ``database``, from the file beside this one."""
    spec = importlib.util.spec_from_file_location(
        "_tokensmith_write_turns", Path(__file__).with_name("write_turns.py")
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    turns: AbstractContextManager[Any] = module.ProcessWriteTurns(database, timeout)
    return turns


if __name__ == "__main__":
    main()
