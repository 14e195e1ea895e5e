"""SqlGrantStore: codes, refresh tokens, sessions and the rest, keyed by handle hash.

``consume`` is one conditional UPDATE ... RETURNING, so a handle is used
exactly once even when the same value reaches several processes at once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from tokensmith.models.grant import ConsumeOutcome, GrantKind, StoredGrant
from tokensmith.stores.protocols import DuplicateGrant
from tokensmith.stores.sql.tables import grants


class SqlGrantStore:
    def __init__(self, engine: AsyncEngine):
        self._engine = engine

    async def save(self, grant: StoredGrant) -> None:
        try:
            async with self._engine.begin() as connection:
                await connection.execute(insert(grants).values(**_row_from_grant(grant)))
        except IntegrityError as exc:  # the primary key: the only constraint a save can break
            raise DuplicateGrant(grant.key) from exc

    async def replace(self, grant: StoredGrant) -> None:
        """Insert or overwrite the record with this key (consents, counters)."""
        async with self._engine.begin() as connection:
            await connection.execute(delete(grants).where(grants.c.key == grant.key))
            await connection.execute(insert(grants).values(**_row_from_grant(grant)))

    async def find(self, key: str, kind: GrantKind) -> StoredGrant | None:
        async with self._engine.connect() as connection:
            row = (
                (
                    await connection.execute(
                        select(grants).where(and_(grants.c.key == key, grants.c.kind == kind.value))
                    )
                )
                .mappings()
                .first()
            )
        return None if row is None else _grant_from_row(row)

    async def consume(
        self, key: str, kind: GrantKind, now: int
    ) -> tuple[ConsumeOutcome, StoredGrant | None]:
        """Mark the grant used if nobody has; say whether this call was the one."""
        async with self._engine.begin() as connection:
            row = (
                (
                    await connection.execute(
                        update(grants)
                        .where(
                            and_(
                                grants.c.key == key,
                                grants.c.kind == kind.value,
                                grants.c.consumed_at.is_(None),
                            )
                        )
                        .values(consumed_at=now)
                        .returning(*grants.c)
                    )
                )
                .mappings()
                .first()
            )
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
                update(grants)
                .where(
                    and_(
                        grants.c.key == key,
                        grants.c.kind == kind.value,
                        grants.c.consumed_at.is_(None),
                    )
                )
                .values(data=data)
            )
        return bool(result.rowcount)

    async def revoke_family(self, family_id: str, now: int) -> int:
        """Revoke every grant of a family (a refresh-token chain, a code's tokens)."""
        async with self._engine.begin() as connection:
            result = await connection.execute(
                update(grants)
                .where(and_(grants.c.family_id == family_id, grants.c.revoked_at.is_(None)))
                .values(revoked_at=now)
            )
        return int(result.rowcount)

    async def revoke(self, key: str, now: int) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                update(grants)
                .where(and_(grants.c.key == key, grants.c.revoked_at.is_(None)))
                .values(revoked_at=now)
            )

    async def purge_expired(self, before: int) -> int:
        """Delete every grant whose expiry is before ``before``."""
        async with self._engine.begin() as connection:
            result = await connection.execute(delete(grants).where(grants.c.expires_at < before))
        return int(result.rowcount)

    async def remove(self, key: str) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(delete(grants).where(grants.c.key == key))


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
