"""KeyedLookup: concurrent reads of rows by one unique column share one SELECT.

The token endpoint and introspection read one row per request (a grant by its
handle's hash, a user by subject). Concurrent reads are sent together
(``Batcher``) as one ``SELECT ... WHERE column IN (...)``; each caller gets
its own row, or None.

With an engine's SQLite process (``process_sqlite.py``) a table whose columns
the driver returns as they are (``DriverSelect``: strings, integers, JSON text)
is read there instead, the keys of one event-loop turn in one SELECT, so the
reader thread's Python (SQLAlchemy's statement and result handling) and its
waits for the interpreter lock leave the worker.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import JSON, Column, Connection, RowMapping, Table, bindparam, select
from sqlalchemy.ext.asyncio import AsyncEngine

from tokensmith.stores.sql.batching import Batch, Batcher
from tokensmith.stores.sql.engine import SingleWriterEngine, run_read, sqlite_process_of
from tokensmith.stores.sql.group_commit import stored_as_given
from tokensmith.stores.sql.process_sqlite import NotSent

__all__ = ["DriverSelect", "KeyedLookup"]

Row = Mapping[Any, Any]


@dataclass(frozen=True, slots=True)
class DriverSelect:
    """A SELECT of a table's rows by a key column, as the driver's SQL (up to ``IN``)."""

    sql: str
    columns: tuple[str, ...]
    key_index: int
    json_indexes: frozenset[int]

    @classmethod
    def for_sqlite(cls, engine: AsyncEngine, table: Table, key: Column[Any]) -> DriverSelect | None:
        """None unless ``engine`` is SQLite on a file and every column is a string, an
        integer or JSON, whose stored values need no SQLAlchemy processing but JSON's."""
        if not isinstance(engine, SingleWriterEngine) or engine.thread_engine is None:
            return None
        if not stored_as_given(table):
            return None
        # SQLAlchemy's own SQL for the SELECT, cut before its expanding IN list: the
        # process appends one "?" per key.
        query = select(table).where(key.in_(bindparam("p_keys", expanding=True)))
        compiled = str(query.compile(dialect=engine.dialect))
        cut = compiled.rfind("(__[POSTCOMPILE_p_keys])")
        if cut < 0:
            return None
        columns = tuple(column.name for column in table.columns)
        return cls(
            sql=compiled[:cut],
            columns=columns,
            key_index=columns.index(key.name),
            json_indexes=frozenset(
                n for n, column in enumerate(table.columns) if isinstance(column.type, JSON)
            ),
        )

    def row(self, values: list[Any]) -> dict[str, Any]:
        """A row's values, JSON columns decoded as SQLAlchemy's JSON type decodes them."""
        json_indexes = self.json_indexes
        return {
            name: orjson.loads(value) if n in json_indexes and value is not None else value
            for n, (name, value) in enumerate(zip(self.columns, values, strict=True))
        }


class KeyedLookup:
    def __init__(self, engine: AsyncEngine, table: Table, column: Column[Any]) -> None:
        self._engine = engine
        self._column = column.name
        self._query = select(table).where(column.in_(bindparam("p_values", expanding=True)))
        self._batcher: Batcher[Any, Row | None] = Batcher(
            self._read, name=f"tokensmith-lookup-{table.name}"
        )
        self._driver_select = DriverSelect.for_sqlite(engine, table, column)

    async def find(self, value: Any) -> Row | None:
        """The row whose column equals ``value``, read after this call began."""
        if self._driver_select is not None and isinstance(value, str):
            process = sqlite_process_of(self._engine)
            if process is not None:
                try:
                    return await process.find(self._driver_select, value)
                except NotSent:  # the process ended before it was asked: the thread reads it
                    pass
        return await self._batcher.submit(value)

    def find_in(self, connection: Connection, values: Sequence[Any]) -> dict[Any, RowMapping]:
        """The rows for ``values`` by their column's value, in a transaction the caller holds."""
        result = connection.execute(self._query, {"p_values": list(set(values))})
        return {row[self._column]: row for row in result.mappings()}

    async def _read(self, batch: Batch[Any, Row | None]) -> list[Row | None]:
        # On SQLite the lambda runs on a reader thread, and takes what is waiting then.
        rows = await run_read(
            self._engine, lambda connection: self.find_in(connection, batch.take())
        )
        return [rows.get(value) for value in batch.items]
