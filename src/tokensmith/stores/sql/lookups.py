"""KeyedLookup: concurrent reads of rows by one unique column share one SELECT.

The token endpoint and introspection read one row per request (a grant by its
handle's hash, a user by subject). Concurrent reads are sent together
(``Batcher``) as one ``SELECT ... WHERE column IN (...)``; each caller gets
its own row, or None.

With an engine's SQLite process (``process_sqlite.py``) a table whose columns
the driver returns as they are (``DriverSelect``: strings, integers, JSON text)
is read there instead, the keys of one event-loop turn in one SELECT, so the
reader thread's Python (SQLAlchemy's statement and result handling) and its
waits for the interpreter lock leave the worker. ``DriverUpdate`` is the same
for an UPDATE ... RETURNING of such a table (a grant's consume).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import orjson
from sqlalchemy import (
    JSON,
    Column,
    Connection,
    RowMapping,
    Table,
    TableClause,
    bindparam,
    select,
)
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import Update

from tokensmith.stores.sql.batching import Batch, Batcher
from tokensmith.stores.sql.engine import SingleWriterEngine, run_read, sqlite_process_of
from tokensmith.stores.sql.group_commit import given_as_is, stored_as_given
from tokensmith.stores.sql.process_sqlite import NotSent
from tokensmith.stores.sql.sqlite_process import KEY_LIST, SELECT, UPDATE

__all__ = ["DriverSelect", "DriverUpdate", "KeyedLookup"]

Row = Mapping[Any, Any]


@dataclass(frozen=True, slots=True)
class DriverSelect:
    """A SELECT of a table's rows by a key column, as the driver's SQL (up to ``IN``)."""

    frame: ClassVar[bytes] = SELECT
    sql: str
    columns: tuple[str, ...]
    key_index: int
    json_indexes: frozenset[int]

    @classmethod
    def for_sqlite(cls, engine: AsyncEngine, table: Table, key: Column[Any]) -> DriverSelect | None:
        """None unless ``engine`` is SQLite on a file and every column is a string, an
        integer or JSON, whose stored values need no SQLAlchemy processing but JSON's."""
        if not _driver_runs(engine, table):
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
            json_indexes=_json_indexes(table.columns),
        )

    def row(self, values: list[Any]) -> dict[str, Any]:
        return _decoded(self.columns, self.json_indexes, values)

    def answer(
        self, callers: list[asyncio.Future[Any]], keys: list[str], rows: list[list[Any]]
    ) -> None:
        """Each caller its key's row (or None). Rows this worker cannot read raise,
        before any caller is answered."""
        found = {row[self.key_index]: self.row(row) for row in rows}
        for done, key in zip(callers, keys, strict=True):
            if not done.done():
                done.set_result(found.get(key))


@dataclass(frozen=True, slots=True)
class DriverUpdate:
    """An UPDATE ... RETURNING as the driver's SQL, its one expanding list at ``KEY_LIST``."""

    frame: ClassVar[bytes] = UPDATE
    sql: str
    parameters: tuple[str, ...]
    """The bound parameters' names in the SQL's order (the expanding one among them)."""
    columns: tuple[str, ...]
    json_indexes: frozenset[int]

    @classmethod
    def for_sqlite(cls, engine: AsyncEngine, statement: Update) -> DriverUpdate | None:
        """None unless ``engine`` is SQLite on a file, ``statement`` has exactly one
        expanding parameter, every parameter is a string or an integer (values the
        driver takes as they are) and its table's columns are strings, integers or JSON."""
        if not _driver_runs(engine, statement.table):
            return None
        compiled = statement.compile(dialect=engine.dialect)
        text = str(compiled)
        expanding = [
            name for name, bound in compiled.binds.items() if bound.expanding and name in text
        ]
        if len(expanding) != 1 or compiled.positiontup is None:
            return None
        if not all(given_as_is(compiled.binds[name].type) for name in compiled.positiontup):
            return None
        marker = f"(__[POSTCOMPILE_{expanding[0]}])"
        if text.count(marker) != 1 or KEY_LIST in text:
            return None
        returned = list(statement.exported_columns)
        return cls(
            sql=text.replace(marker, KEY_LIST),
            parameters=tuple(compiled.positiontup),
            columns=tuple(column.name for column in returned),
            json_indexes=_json_indexes(returned),
        )

    def values(self, parameters: Mapping[str, Any]) -> list[Any]:
        """The parameters in the SQL's order; the expanding one stays a list."""
        return [parameters[name] for name in self.parameters]

    def row(self, values: list[Any]) -> dict[str, Any]:
        return _decoded(self.columns, self.json_indexes, values)

    def answer(
        self, callers: list[asyncio.Future[Any]], keys: list[str], rows: list[list[Any]]
    ) -> None:
        """Each caller the rows its run of the UPDATE returned (committed: a caller
        cancelled meanwhile changes nothing). Rows this worker cannot read raise, before
        any caller is answered."""
        if len(rows) != len(callers):
            raise ValueError(f"{len(rows)} runs answered for {len(callers)}")
        returned = [[self.row(row) for row in run] for run in rows]
        for done, run in zip(callers, returned, strict=True):
            if not done.done():
                done.set_result(run)


def _driver_runs(engine: AsyncEngine, table: Any) -> bool:
    """Whether ``engine`` is SQLite on a file (whose SQLite process may run the statement)
    and ``table``'s rows go to and come from the driver as they are (``stored_as_given``)."""
    return (
        isinstance(engine, SingleWriterEngine)
        and engine.thread_engine is not None
        and isinstance(table, TableClause)
        and stored_as_given(table)
    )


def _json_indexes(columns: Iterable[Any]) -> frozenset[int]:
    """Where the JSON columns are among ``columns``, in order."""
    return frozenset(n for n, column in enumerate(columns) if isinstance(column.type, JSON))


def _decoded(
    columns: tuple[str, ...], json_indexes: frozenset[int], values: list[Any]
) -> dict[str, Any]:
    """A row's values, JSON columns decoded as SQLAlchemy's JSON type decodes them."""
    return {
        name: orjson.loads(value) if n in json_indexes and value is not None else value
        for n, (name, value) in enumerate(zip(columns, values, strict=True))
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
