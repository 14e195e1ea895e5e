"""RedisGrantStore: short-lived grants as Redis hashes that expire on their own.

Key layout (``prefix`` is the ``redis_key_prefix`` setting):

``{prefix}:grant:{key}``
    A hash with one field per ``StoredGrant`` field (absent when None) and
    ``data`` as JSON. It expires ``grace_seconds`` after the record's
    ``expires_at``: like the SQL store until its purge, a replayed code is
    still recognised (and its family revoked) shortly after it expired.
``{prefix}:family:{family_id}``
    A set of the keys of the family's records, for ``revoke_family``. It
    lives as long as its longest-lived member.

A hash rather than one JSON string: the state changes run as Lua scripts, and
Lua's cjson would rewrite a whole record on the way through (an empty list
comes back as ``{}``, floats lose digits). With a hash the scripts set single
fields and never parse ``data``.

The revoke_family script reaches keys it is not given in KEYS (the family's
members), so the store needs one Redis (replicas are fine), not Redis Cluster.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from redis.asyncio import Redis

from tokensmith.models.grant import ConsumeOutcome, GrantKind, StoredGrant
from tokensmith.stores.protocols import DuplicateGrant
from tokensmith.stores.redis import scripts

DEFAULT_GRACE_SECONDS = 300
_OUTCOMES = {1: ConsumeOutcome.CONSUMED, 2: ConsumeOutcome.ALREADY_CONSUMED}
_OPTIONAL_TEXT = ("client_id", "subject_id", "family_id", "session_id")
_OPTIONAL_TIMES = ("consumed_at", "revoked_at")

Fields = Mapping[bytes | str, bytes | str]


class RedisGrantStore:
    def __init__(
        self,
        client: Redis,
        prefix: str = "tokensmith",
        grace_seconds: int = DEFAULT_GRACE_SECONDS,
    ):
        self._client = client
        self._grant_prefix = f"{prefix}:grant:"
        self._family_prefix = f"{prefix}:family:"
        self._grace_seconds = grace_seconds
        self._save = client.register_script(scripts.SAVE)
        self._consume = client.register_script(scripts.CONSUME)
        self._update_data = client.register_script(scripts.UPDATE_DATA)
        self._revoke = client.register_script(scripts.REVOKE)
        self._revoke_family = client.register_script(scripts.REVOKE_FAMILY)

    async def save(self, grant: StoredGrant) -> None:
        if not await self._write(grant, only_new=True):
            raise DuplicateGrant(grant.key)

    async def replace(self, grant: StoredGrant) -> None:
        """Insert or overwrite the record with this key (counters), with a fresh TTL."""
        await self._write(grant, only_new=False)

    async def find(self, key: str, kind: GrantKind) -> StoredGrant | None:
        fields = await self._client.hgetall(self._grant_prefix + key)
        grant = _grant_from_fields(key, fields) if fields else None
        return grant if grant is not None and grant.kind is kind else None

    async def consume(
        self, key: str, kind: GrantKind, now: int
    ) -> tuple[ConsumeOutcome, StoredGrant | None]:
        """Mark the grant used if nobody has; say whether this call was the one."""
        reply = await self._consume(keys=[self._grant_prefix + key], args=[kind.value, now])
        outcome = _OUTCOMES.get(int(reply[0]))
        if outcome is None:
            return ConsumeOutcome.MISSING, None
        return outcome, _grant_from_fields(key, _pairs(reply[1]))

    async def update_data(self, key: str, kind: GrantKind, data: dict[str, Any]) -> bool:
        """Replace the data of a grant nobody has consumed yet; False if it was consumed."""
        keys = [self._grant_prefix + key]
        return bool(await self._update_data(keys=keys, args=[kind.value, orjson.dumps(data)]))

    async def revoke_family(self, family_id: str, now: int) -> int:
        """Revoke every grant of a family (a code and whatever else shares its family)."""
        keys = [self._family_prefix + family_id]
        return int(await self._revoke_family(keys=keys, args=[self._grant_prefix, family_id, now]))

    async def revoke(self, key: str, now: int) -> None:
        await self._revoke(keys=[self._grant_prefix + key], args=[now])

    async def remove(self, key: str) -> None:
        # The family set may keep the key; revoke_family drops such members.
        await self._client.delete(self._grant_prefix + key)

    async def _write(self, grant: StoredGrant, *, only_new: bool) -> bool:
        keys = [self._grant_prefix + grant.key]
        if grant.family_id is not None:
            keys.append(self._family_prefix + grant.family_id)
        # At least a second: EXPIRE 0 would delete the record at once.
        ttl = max(1, grant.expires_at - int(time.time()) + self._grace_seconds)
        args = ["new" if only_new else "any", ttl, grant.key, *_fields_of(grant)]
        return bool(await self._save(keys=keys, args=args))


def _fields_of(grant: StoredGrant) -> list[str | int | bytes]:
    """Field, value, field, value... for HSET; None fields are left out."""
    fields: list[str | int | bytes] = [
        "kind",
        grant.kind.value,
        "created_at",
        grant.created_at,
        "expires_at",
        grant.expires_at,
        "data",
        orjson.dumps(grant.data),
    ]
    for name in (*_OPTIONAL_TEXT, *_OPTIONAL_TIMES):
        value = getattr(grant, name)
        if value is not None:
            fields += [name, value]
    return fields


def _pairs(flat: Sequence[bytes | str]) -> Fields:
    """A script's HGETALL reply (field, value, ...) as a mapping."""
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _grant_from_fields(key: str, fields: Fields) -> StoredGrant:
    text = {_text(name): _text(value) for name, value in fields.items()}
    consumed_at, revoked_at = (text.get(name) for name in _OPTIONAL_TIMES)
    return StoredGrant(
        key=key,
        kind=GrantKind(text["kind"]),
        client_id=text.get("client_id"),
        subject_id=text.get("subject_id"),
        family_id=text.get("family_id"),
        session_id=text.get("session_id"),
        data=orjson.loads(text["data"]),
        created_at=int(text["created_at"]),
        expires_at=int(text["expires_at"]),
        consumed_at=None if consumed_at is None else int(consumed_at),
        revoked_at=None if revoked_at is None else int(revoked_at),
    )
