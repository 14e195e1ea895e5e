"""KeyedLookup: concurrent reads of rows by one unique column share one SELECT.

The token endpoint and introspection read one row per request (a grant by its
handle's hash, a user by subject). Concurrent reads are sent together
(``Batcher``) as one ``SELECT ... WHERE column IN (...)``; each caller gets
its own row, or None.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Column, Connection, RowMapping, Table, bindparam, select
from sqlalchemy.ext.asyncio import AsyncEngine

from tokensmith.stores.sql.batching import Batch, Batcher
from tokensmith.stores.sql.engine import run_read

__all__ = ["KeyedLookup"]


class KeyedLookup:
    def __init__(self, engine: AsyncEngine, table: Table, column: Column[Any]) -> None:
        self._engine = engine
        self._column = column.name
        self._query = select(table).where(column.in_(bindparam("p_values", expanding=True)))
        self._batcher: Batcher[Any, RowMapping | None] = Batcher(
            self._read, name=f"tokensmith-lookup-{table.name}"
        )

    async def find(self, value: Any) -> RowMapping | None:
        """The row whose column equals ``value``, read after this call began."""
        return await self._batcher.submit(value)

    def find_in(self, connection: Connection, values: Sequence[Any]) -> dict[Any, RowMapping]:
        """The rows for ``values`` by their column's value, in a transaction the caller holds."""
        result = connection.execute(self._query, {"p_values": list(set(values))})
        return {row[self._column]: row for row in result.mappings()}

    async def _read(self, batch: Batch[Any, RowMapping | None]) -> list[RowMapping | None]:
        # On SQLite the lambda runs on a reader thread, and takes what is waiting then.
        rows = await run_read(
            self._engine, lambda connection: self.find_in(connection, batch.take())
        )
        return [rows.get(value) for value in batch.items]
