"""CachedClientStore: stored clients looked up once per process, not once per request.

The token endpoint authenticates a client on every request; for clients in
the database that would be a query each time. This cache keeps each lookup,
misses included (an unknown id asked again and again costs nothing), drops
everything at once on a write made through it, and otherwise re-reads the
``clients`` change version at most once per ``recheck_seconds`` so that a
change made by the CLI or another process is seen within about a second.
"""

from __future__ import annotations

import asyncio
import time

from tokensmith.models.client import Client
from tokensmith.stores.sql.clients import SqlClientStore

RECHECK_SECONDS = 1.0
MAX_ENTRIES = 10_000
"""Beyond this many cached ids (hits and misses) the cache starts over, bounding memory."""


class CachedClientStore:
    def __init__(self, stored: SqlClientStore, recheck_seconds: float = RECHECK_SECONDS):
        self.stored = stored
        self._recheck_seconds = recheck_seconds
        self._entries: dict[str, Client | None] = {}
        self._version: int | None = None
        self._checked_at = float("-inf")
        self._generation = 0
        self._first_check = asyncio.Lock()

    async def find_client_by_id(self, client_id: str) -> Client | None:
        await self._check_version()
        if client_id in self._entries:
            return self._entries[client_id]
        generation = self._generation
        client = await self.stored.find_client_by_id(client_id)
        # A write (or a version change) during the read may have made it stale: do not keep it.
        if generation == self._generation:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[client_id] = client
        return client

    def invalidate(self) -> None:
        """Forget every cached lookup (after a write made in this process)."""
        self._generation += 1
        self._entries.clear()

    async def add_client(self, client: Client) -> None:
        try:
            await self.stored.add_client(client)
        finally:
            self.invalidate()

    async def replace_client(self, client: Client) -> bool:
        try:
            return await self.stored.replace_client(client)
        finally:
            self.invalidate()

    async def remove_client(self, client_id: str) -> bool:
        try:
            return await self.stored.remove_client(client_id)
        finally:
            self.invalidate()

    async def list_clients(self) -> list[Client]:
        return await self.stored.list_clients()

    async def _check_version(self) -> None:
        """Drop the cache if the stored version moved; read it at most once a recheck period.

        The first check is awaited by everyone; after that the first request to
        find the check due makes it while the others use the entries they have.
        """
        if self._version is None:
            async with self._first_check:
                if self._version is None:
                    await self._read_version()
            return
        if time.monotonic() - self._checked_at >= self._recheck_seconds:
            self._checked_at = time.monotonic()
            await self._read_version()

    async def _read_version(self) -> None:
        self._checked_at = time.monotonic()
        version = await self.stored.version()
        if version != self._version:
            self.invalidate()
            self._version = version
