"""SqlKeyStore: signing keys, private parts encrypted before they reach the database."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from tokensmith.stores.protocols import StoredKey
from tokensmith.stores.sql.tables import clients, signing_keys


class SqlKeyStore:
    def __init__(self, engine: AsyncEngine):
        self._engine = engine

    async def list_keys(self) -> list[StoredKey]:
        async with self._engine.connect() as connection:
            result = await connection.execute(
                select(signing_keys).order_by(signing_keys.c.created_at, signing_keys.c.kid)
            )
            return [_key_from_row(row._mapping) for row in result]

    async def add_key(self, key: StoredKey) -> bool:
        try:
            async with self._engine.begin() as connection:
                await connection.execute(insert(signing_keys).values(**_row_from_key(key)))
        except IntegrityError:
            return False  # the unique ``succeeds``: another process added the next key first
        return True

    async def retire_key(
        self, kid: str, retired_at: int, remove_after: int, successor: str | None = None
    ) -> bool:
        column = signing_keys.c
        async with self._engine.begin() as connection:
            result = await connection.execute(
                update(signing_keys)
                .where(column.kid == kid)
                .where(or_(column.retired_at.is_(None), column.retired_at > retired_at))
                .values(retired_at=retired_at, remove_after=remove_after)
            )
            if successor is None or not result.rowcount:
                return bool(result.rowcount)
            await connection.execute(
                update(signing_keys)
                .where(column.kid == successor)
                .where(column.activates_at > retired_at)
                .values(activates_at=retired_at)
            )
            return True

    async def longest_client_token_lifetime(self) -> int | None:
        async with self._engine.connect() as connection:
            longest = await connection.scalar(select(func.max(clients.c.access_token_lifetime)))
        return None if longest is None else int(longest)


def _row_from_key(key: StoredKey) -> dict[str, Any]:
    return {
        "kid": key.kid,
        "algorithm": key.algorithm,
        "encrypted_private_key": key.encrypted_private_key,
        "created_at": key.created_at,
        "activates_at": key.activates_at,
        "retired_at": key.retired_at,
        "remove_after": key.remove_after,
        "succeeds": key.succeeds,
    }


def _key_from_row(row: Any) -> StoredKey:
    return StoredKey(
        kid=row["kid"],
        algorithm=row["algorithm"],
        encrypted_private_key=row["encrypted_private_key"],
        created_at=row["created_at"],
        activates_at=row["activates_at"],
        retired_at=row["retired_at"],
        remove_after=row["remove_after"],
        succeeds=row["succeeds"],
    )
