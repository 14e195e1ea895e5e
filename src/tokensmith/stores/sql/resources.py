"""API resources stored at run time (admin API, CLI), chained after the config file's.

``ChainedResourceStore`` serves every lookup from an in-memory index, as the
config store does (resources are read on every token request); it rebuilds
the index when the ``api_resources`` change version moves, which it checks at
most once a second, and at once after a write made through it. The config
file wins on a shared audience, as it does for clients.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from tokensmith.models.resource import ApiResource
from tokensmith.stores.config import ConfigResourceStore
from tokensmith.stores.sql.tables import api_resources
from tokensmith.stores.sql.versions import bump_version, read_version

VERSION_KIND = "api_resources"
RECHECK_SECONDS = 1.0


class SqlResourceStore:
    def __init__(self, engine: AsyncEngine):
        self._engine = engine

    async def list_resources(self) -> list[ApiResource]:
        async with self._engine.connect() as connection:
            result = await connection.execute(
                select(api_resources).order_by(api_resources.c.audience)
            )
            return [_resource_from_row(row) for row in result.mappings()]

    async def find_api_resource(self, audience: str) -> ApiResource | None:
        async with self._engine.connect() as connection:
            result = await connection.execute(
                select(api_resources).where(api_resources.c.audience == audience)
            )
            row = result.mappings().first()
        return None if row is None else _resource_from_row(row)

    async def add_resource(self, resource: ApiResource) -> None:
        """Insert ``resource``; IntegrityError if its audience is taken."""
        now = int(time.time())
        async with self._engine.begin() as connection:
            await connection.execute(
                insert(api_resources).values(
                    **_row_from_resource(resource), created_at=now, updated_at=now
                )
            )
            await bump_version(connection, VERSION_KIND)

    async def replace_resource(self, resource: ApiResource) -> bool:
        async with self._engine.begin() as connection:
            result = await connection.execute(
                update(api_resources)
                .where(api_resources.c.audience == resource.audience)
                .values(**_row_from_resource(resource), updated_at=int(time.time()))
            )
            await bump_version(connection, VERSION_KIND)
        return bool(result.rowcount)

    async def remove_resource(self, audience: str) -> bool:
        async with self._engine.begin() as connection:
            result = await connection.execute(
                delete(api_resources).where(api_resources.c.audience == audience)
            )
            await bump_version(connection, VERSION_KIND)
        return bool(result.rowcount)

    async def version(self) -> int:
        return await read_version(self._engine, VERSION_KIND)


class ChainedResourceStore:
    """The config file's resources, then the stored ones, from one in-memory index."""

    def __init__(
        self,
        configured: Iterable[ApiResource],
        stored: SqlResourceStore,
        recheck_seconds: float = RECHECK_SECONDS,
    ):
        self.configured: tuple[ApiResource, ...] = tuple(configured)
        self.stored = stored
        self._recheck_seconds = recheck_seconds
        self._index = ConfigResourceStore(self.configured)
        self._version: int | None = None
        self._checked_at = float("-inf")
        self._first_load = asyncio.Lock()

    async def find_api_resources_by_scope(self, scopes: Iterable[str]) -> list[ApiResource]:
        return await (await self._current()).find_api_resources_by_scope(scopes)

    async def find_api_resource(self, audience: str) -> ApiResource | None:
        return await (await self._current()).find_api_resource(audience)

    async def all_scopes(self) -> list[str]:
        return await (await self._current()).all_scopes()

    async def generation(self) -> object:
        """The same object while the answers above stay the same (ResourceStore's optional part).

        It is the in-memory index, replaced whenever the stored resources are
        read again after a change (seen within ``recheck_seconds``).
        """
        return await self._current()

    def is_configured(self, audience: str) -> bool:
        return any(resource.audience == audience for resource in self.configured)

    def invalidate(self) -> None:
        """Re-read the stored resources on the next lookup (after a write in this process)."""
        self._checked_at = float("-inf")
        self._version = -1 if self._version is not None else None

    async def add_resource(self, resource: ApiResource) -> None:
        try:
            await self.stored.add_resource(resource)
        finally:
            self.invalidate()

    async def replace_resource(self, resource: ApiResource) -> bool:
        try:
            return await self.stored.replace_resource(resource)
        finally:
            self.invalidate()

    async def remove_resource(self, audience: str) -> bool:
        try:
            return await self.stored.remove_resource(audience)
        finally:
            self.invalidate()

    async def _current(self) -> ConfigResourceStore:
        if self._version is None:
            async with self._first_load:
                if self._version is None:
                    await self._reload()
        elif time.monotonic() - self._checked_at >= self._recheck_seconds:
            self._checked_at = time.monotonic()
            await self._reload()
        return self._index

    async def _reload(self) -> None:
        self._checked_at = time.monotonic()
        version = await self.stored.version()
        if version != self._version:
            stored = await self.stored.list_resources()
            self._index = _index(self.configured, stored)
            self._version = version


def _index(configured: Sequence[ApiResource], stored: Sequence[ApiResource]) -> ConfigResourceStore:
    audiences = {resource.audience for resource in configured}
    return ConfigResourceStore([*(r for r in stored if r.audience not in audiences), *configured])


def _row_from_resource(resource: ApiResource) -> dict[str, Any]:
    return {
        "audience": resource.audience,
        "name": resource.name,
        "scopes": sorted(resource.scopes),
        "access_token_format": resource.access_token_format,
        "introspecting_clients": sorted(resource.introspecting_clients),
    }


def _resource_from_row(row: Any) -> ApiResource:
    return ApiResource(
        audience=row["audience"],
        name=row["name"],
        scopes=frozenset(row["scopes"]),
        access_token_format=row["access_token_format"],
        introspecting_clients=frozenset(row["introspecting_clients"]),
    )
