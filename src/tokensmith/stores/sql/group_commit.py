"""GroupCommit: concurrent inserts of one statement share one transaction.

Every token request that issues an opaque access token, a refresh token or a
code inserts one row. On its own transaction each insert costs a commit and,
through aiosqlite, four thread hand-offs; on SQLite the process's writes also
take turns (``SingleWriterEngine``), so a process could write only as many
tokens per second as it could run those transactions one after another.

Here the first insert to arrive starts a flush; inserts arriving while it runs
wait for the next one, which writes them all with one ``executemany`` in one
transaction. Each caller still returns only after its row is committed, so a
token is never handed out before it is durable, and a caller sees its own
row's error: if a batch fails on a constraint (a duplicate key), its rows are
written again one by one to find whose it was.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import Executable

from tokensmith.stores.sql._per_loop import PerLoop

__all__ = ["GroupCommit"]

MAX_BATCH = 256
"""Rows per transaction at most; more waiting rows go in the next one."""

Row = dict[str, Any]


@dataclass(slots=True)
class _Queue:
    """One event loop's waiting rows, and the task writing them (if one runs)."""

    rows: list[tuple[Row, asyncio.Future[None]]] = field(default_factory=list)
    writer: asyncio.Task[None] | None = None


class GroupCommit:
    def __init__(self, engine: AsyncEngine, statement: Executable) -> None:
        self._engine = engine
        self._statement = statement
        self._queues = PerLoop(_Queue)  # its futures and task belong to one loop

    async def insert(self, row: Row) -> None:
        """Insert ``row``; returns once it is committed, raises what inserting it raised."""
        loop = asyncio.get_running_loop()
        queue = self._queues.get()
        done: asyncio.Future[None] = loop.create_future()
        queue.rows.append((row, done))
        if queue.writer is None:
            queue.writer = loop.create_task(self._write(queue), name="tokensmith-group-commit")
        await done

    async def _write(self, queue: _Queue) -> None:
        try:
            while queue.rows:
                batch, queue.rows = queue.rows[:MAX_BATCH], queue.rows[MAX_BATCH:]
                await self._write_batch(batch)
        except asyncio.CancelledError:  # the loop is shutting down: nobody waits for more
            for _, done in queue.rows:
                done.cancel()
            queue.rows.clear()
            raise
        finally:
            queue.writer = None

    async def _write_batch(self, batch: list[tuple[Row, asyncio.Future[None]]]) -> None:
        try:
            async with self._engine.begin() as connection:
                await connection.execute(self._statement, [row for row, _ in batch])
        except IntegrityError as exc:
            if len(batch) == 1:
                _settle(batch[0][1], exc)
                return
            for row, done in batch:  # whose row broke the constraint?
                await self._write_batch([(row, done)])
            return
        except asyncio.CancelledError:
            for _, done in batch:
                done.cancel()
            raise
        except Exception as exc:  # the database is down or busy: every row failed
            for _, done in batch:
                _settle(done, exc)
            return
        for _, done in batch:
            _settle(done, None)


def _settle(done: asyncio.Future[None], error: Exception | None) -> None:
    if done.done():  # the caller was cancelled (the client went away)
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)
