"""SqlRateLimitStore: fixed-window request counts shared by every process through the database.

Used when no Redis is configured. One statement per counted request: an
upsert that adds one and returns the new count, atomic on SQLite and on
PostgreSQL alike, so concurrent processes never lose a count. Rows of ended
windows are deleted by whichever process first counts in a new window.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from tokensmith.stores.sql.tables import rate_limit_counters

_table = rate_limit_counters


def _increment(dialect: Any) -> Any:
    statement = dialect.insert(_table)
    return statement.on_conflict_do_update(
        index_elements=[_table.c.key], set_={"count": _table.c.count + 1}
    ).returning(_table.c.count)


class SqlRateLimitStore:
    def __init__(self, engine: AsyncEngine):
        self._engine = engine
        dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
        self._increment = _increment(dialect)

    async def increment(self, key: str, expires_at: int) -> int:
        """Count one more for ``key`` (a row that lives until ``expires_at``); the new count."""
        async with self._engine.begin() as connection:
            result = await connection.execute(
                self._increment, {"key": key, "count": 1, "expires_at": expires_at}
            )
            return int(result.scalar_one())

    async def purge(self, now: int) -> int:
        """Delete the counts of windows that ended before ``now``; how many."""
        async with self._engine.begin() as connection:
            result = await connection.execute(delete(_table).where(_table.c.expires_at < now))
        return int(result.rowcount)
