"""SqlGrantStore: codes, refresh tokens, sessions and the rest, keyed by handle hash.

``consume`` is one conditional UPDATE ... RETURNING, so a handle is used
exactly once even when the same value reaches several processes at once.

The statements are built once, here, with bound parameters: building a
statement per call (and SQLAlchemy working out its cache key from scratch)
was a large share of the time per request.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from tokensmith.models.grant import ConsumeOutcome, GrantKind, StoredGrant
from tokensmith.stores.protocols import DuplicateGrant
from tokensmith.stores.sql.group_commit import GroupCommit
from tokensmith.stores.sql.tables import grants

# Parameter names differ from the column names: SQLAlchemy keeps those for SET clauses.
_KEY = bindparam("p_key", type_=grants.c.key.type)
_KIND = bindparam("p_kind", type_=grants.c.kind.type)
_NOW = bindparam("p_now", type_=grants.c.consumed_at.type)
_THIS_GRANT = (grants.c.key == _KEY, grants.c.kind == _KIND)
_UNCONSUMED = (*_THIS_GRANT, grants.c.consumed_at.is_(None))

_INSERT = insert(grants)
_DELETE = delete(grants).where(grants.c.key == _KEY)
_FIND = select(grants).where(*_THIS_GRANT)
_CONSUME = update(grants).where(*_UNCONSUMED).values(consumed_at=_NOW).returning(*grants.c)
_UPDATE_DATA = (
    update(grants).where(*_UNCONSUMED).values(data=bindparam("p_data", type_=grants.c.data.type))
)
_REVOKE_FAMILY = (
    update(grants)
    .where(
        grants.c.family_id == bindparam("p_family", type_=grants.c.family_id.type),
        grants.c.revoked_at.is_(None),
    )
    .values(revoked_at=_NOW)
)
_REVOKE = (
    update(grants)
    .where(grants.c.key == _KEY, grants.c.revoked_at.is_(None))
    .values(revoked_at=_NOW)
)
_PURGE = delete(grants).where(grants.c.expires_at < _NOW)


class SqlGrantStore:
    def __init__(self, engine: AsyncEngine):
        self._engine = engine
        self._inserts = GroupCommit(engine, _INSERT)

    async def save(self, grant: StoredGrant) -> None:
        """Insert ``grant``; concurrent saves share a transaction (``group_commit``)."""
        try:
            await self._inserts.insert(_row_from_grant(grant))
        except IntegrityError as exc:  # the primary key: the only constraint a save can break
            raise DuplicateGrant(grant.key) from exc

    async def replace(self, grant: StoredGrant) -> None:
        """Insert or overwrite the record with this key (consents, counters)."""
        async with self._engine.begin() as connection:
            await connection.execute(_DELETE, {"p_key": grant.key})
            await connection.execute(_INSERT, _row_from_grant(grant))

    async def find(self, key: str, kind: GrantKind) -> StoredGrant | None:
        async with self._engine.connect() as connection:
            result = await connection.execute(_FIND, {"p_key": key, "p_kind": kind.value})
            row = result.mappings().first()
        return None if row is None else _grant_from_row(row)

    async def consume(
        self, key: str, kind: GrantKind, now: int
    ) -> tuple[ConsumeOutcome, StoredGrant | None]:
        """Mark the grant used if nobody has; say whether this call was the one."""
        async with self._engine.begin() as connection:
            result = await connection.execute(
                _CONSUME, {"p_key": key, "p_kind": kind.value, "p_now": now}
            )
            row = result.mappings().first()
        if row is not None:
            return ConsumeOutcome.CONSUMED, _grant_from_row(row)
        existing = await self.find(key, kind)
        if existing is None:
            return ConsumeOutcome.MISSING, None
        return ConsumeOutcome.ALREADY_CONSUMED, existing

    async def update_data(self, key: str, kind: GrantKind, data: dict[str, Any]) -> bool:
        """Replace the data of a grant nobody has consumed yet; False if it was consumed.

        A targeted UPDATE, never delete-and-insert, so that a concurrent
        ``consume`` can never be undone by a stale writer.
        """
        async with self._engine.begin() as connection:
            result = await connection.execute(
                _UPDATE_DATA, {"p_key": key, "p_kind": kind.value, "p_data": data}
            )
        return bool(result.rowcount)

    async def revoke_family(self, family_id: str, now: int) -> int:
        """Revoke every grant of a family (a refresh-token chain, a code's tokens)."""
        async with self._engine.begin() as connection:
            result = await connection.execute(_REVOKE_FAMILY, {"p_family": family_id, "p_now": now})
        return int(result.rowcount)

    async def revoke(self, key: str, now: int) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(_REVOKE, {"p_key": key, "p_now": now})

    async def purge_expired(self, before: int) -> int:
        """Delete every grant whose expiry is before ``before``."""
        async with self._engine.begin() as connection:
            result = await connection.execute(_PURGE, {"p_now": before})
        return int(result.rowcount)

    async def remove(self, key: str) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(_DELETE, {"p_key": key})


def _row_from_grant(grant: StoredGrant) -> dict[str, Any]:
    return {
        "key": grant.key,
        "kind": grant.kind.value,
        "client_id": grant.client_id,
        "subject_id": grant.subject_id,
        "family_id": grant.family_id,
        "session_id": grant.session_id,
        "data": grant.data,
        "created_at": grant.created_at,
        "expires_at": grant.expires_at,
        "consumed_at": grant.consumed_at,
        "revoked_at": grant.revoked_at,
    }


def _grant_from_row(row: Any) -> StoredGrant:
    return StoredGrant(
        key=row["key"],
        kind=GrantKind(row["kind"]),
        client_id=row["client_id"],
        subject_id=row["subject_id"],
        family_id=row["family_id"],
        session_id=row["session_id"],
        data=dict(row["data"]),
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        consumed_at=row["consumed_at"],
        revoked_at=row["revoked_at"],
    )
