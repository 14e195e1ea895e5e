"""Change versions: one counter per cached record kind, bumped with every write.

A process caching clients or API resources reads the counter (a primary-key
lookup) at most once a second and drops its cache when the number moved, so
a change made by the CLI or another server process shows within a second
while the token endpoint does not query the records themselves per request.
"""

from __future__ import annotations

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tokensmith.stores.sql.tables import record_versions


async def bump_version(connection: AsyncConnection, kind: str) -> None:
    """Count one more change to ``kind``, in the caller's transaction."""
    result = await connection.execute(
        update(record_versions)
        .where(record_versions.c.kind == kind)
        .values(version=record_versions.c.version + 1)
    )
    if not result.rowcount:
        try:
            async with connection.begin_nested():
                await connection.execute(insert(record_versions).values(kind=kind, version=1))
        except IntegrityError:  # another process inserted it first: count on its row
            await connection.execute(
                update(record_versions)
                .where(record_versions.c.kind == kind)
                .values(version=record_versions.c.version + 1)
            )


async def read_version(engine: AsyncEngine, kind: str) -> int:
    async with engine.connect() as connection:
        version = await connection.scalar(
            select(record_versions.c.version).where(record_versions.c.kind == kind)
        )
    return int(version or 0)
