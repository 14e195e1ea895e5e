"""RoutingGrantStore: one GrantStore over two, chosen by the kind of record.

Short-lived state (codes, pending requests, replay caches, counters) goes to
Redis, where it expires by itself and never grows the database; what must
outlive a Redis flush or restart (refresh tokens, opaque access tokens,
sessions, consents) stays in SQL.

Calls that name only a key or a family cannot tell the kind, so they go to
both stores: a family spans an authorization code in Redis and the refresh
tokens it yielded in SQL, and a replayed code must revoke them all.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from tokensmith.models.grant import ConsumeOutcome, GrantKind, StoredGrant
from tokensmith.stores.protocols import GrantStore

SHORT_LIVED_KINDS: Final = frozenset(
    {
        GrantKind.AUTHORIZATION_CODE,
        GrantKind.DEVICE_CODE,
        GrantKind.BACKCHANNEL_REQUEST,
        GrantKind.INTERACTION,
        GrantKind.PUSHED_AUTHORIZATION_REQUEST,
        GrantKind.USED_JTI,
        GrantKind.LOGIN_FAILURES,
    }
)
"""Kinds that live minutes and can be lost with Redis at the cost of a retry."""


class RoutingGrantStore:
    def __init__(
        self,
        sql: GrantStore,
        redis: GrantStore,
        redis_kinds: Iterable[GrantKind] = SHORT_LIVED_KINDS,
    ):
        self._sql = sql
        self._redis = redis
        self._redis_kinds = frozenset(redis_kinds)

    def _store(self, kind: GrantKind) -> GrantStore:
        return self._redis if kind in self._redis_kinds else self._sql

    async def save(self, grant: StoredGrant) -> None:
        await self._store(grant.kind).save(grant)

    async def replace(self, grant: StoredGrant) -> None:
        await self._store(grant.kind).replace(grant)

    async def find(self, key: str, kind: GrantKind) -> StoredGrant | None:
        return await self._store(kind).find(key, kind)

    async def consume(
        self, key: str, kind: GrantKind, now: int
    ) -> tuple[ConsumeOutcome, StoredGrant | None]:
        return await self._store(kind).consume(key, kind, now)

    async def update_data(self, key: str, kind: GrantKind, data: dict[str, Any]) -> bool:
        return await self._store(kind).update_data(key, kind, data)

    async def revoke_family(self, family_id: str, now: int) -> int:
        in_redis = await self._redis.revoke_family(family_id, now)
        return in_redis + await self._sql.revoke_family(family_id, now)

    async def revoke(self, key: str, now: int) -> None:
        await self._redis.revoke(key, now)
        await self._sql.revoke(key, now)

    async def remove(self, key: str) -> None:
        await self._redis.remove(key)
        await self._sql.remove(key)
