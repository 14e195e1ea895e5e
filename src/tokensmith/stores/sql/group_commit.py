"""GroupCommit: concurrent inserts of one statement share one transaction.

Every token request that issues an opaque access token, a refresh token or a
code inserts one row. Concurrent inserts are written together (``Batcher``):
one ``executemany`` in one transaction. Each caller still returns only after
its row is committed, so a token is never handed out before it is durable, and
a caller sees its own row's error: if a batch fails on a constraint (a
duplicate key), its rows are written again one by one to find whose it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import Executable

from tokensmith.stores.sql.batching import Batcher
from tokensmith.stores.sql.engine import run_in_transaction

__all__ = ["GroupCommit"]

Row = dict[str, Any]


class GroupCommit:
    def __init__(self, engine: AsyncEngine, statement: Executable) -> None:
        self._engine = engine
        self._statement = statement
        self._batcher: Batcher[Row, None] = Batcher(self._write, name="tokensmith-group-commit")

    async def insert(self, row: Row) -> None:
        """Insert ``row``; returns once it is committed, raises what inserting it raised."""
        await self._batcher.submit(row)

    async def _write(self, rows: Sequence[Row]) -> list[BaseException | None]:
        def insert_all(connection: Connection) -> None:
            connection.execute(self._statement, list(rows))

        try:
            await run_in_transaction(self._engine, insert_all)
        except IntegrityError as exc:
            if len(rows) == 1:
                return [exc]
            outcomes: list[BaseException | None] = []
            for row in rows:  # whose row broke the constraint?
                try:
                    outcomes.extend(await self._write([row]))
                except Exception as error:  # this row alone: the others keep their outcome
                    outcomes.append(error)
            return outcomes
        return [None] * len(rows)
