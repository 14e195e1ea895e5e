"""SqlUserStore: users with argon2 password hashes."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Select, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from tokensmith.models.user import User
from tokensmith.stores.sql.lookups import KeyedLookup
from tokensmith.stores.sql.tables import users

# Built once (grants.py says why); the token endpoint looks a user up per request.
_BY_USERNAME = select(users).where(users.c.username == bindparam("p_value"))


class SqlUserStore:
    def __init__(self, engine: AsyncEngine):
        self._engine = engine
        # Refresh and code redemption read their user per request: batched.
        self._by_subject = KeyedLookup(engine, users, users.c.subject_id)

    async def find_user_by_subject(self, subject_id: str) -> User | None:
        row = await self._by_subject.find(subject_id)
        return None if row is None else _user_from_row(row)

    async def find_user_by_username(self, username: str) -> User | None:
        return await self._find(_BY_USERNAME, username)

    async def get_password_hash(self, username: str) -> tuple[User, str | None] | None:
        """The user and their password hash, for the UserAuthenticator only."""
        async with self._engine.connect() as connection:
            result = await connection.execute(_BY_USERNAME, {"p_value": username})
            row = result.mappings().first()
        return None if row is None else (_user_from_row(row), row["password_hash"])

    async def add_user(self, user: User, password_hash: str | None) -> None:
        now = int(time.time())
        async with self._engine.begin() as connection:
            await connection.execute(
                insert(users).values(
                    **_row_from_user(user), password_hash=password_hash, created_at=now
                )
            )

    async def update_profile(self, user: User) -> None:
        """Overwrite everything but the password of the user with this subject."""
        values = _row_from_user(user)
        values["updated_at"] = int(time.time())
        async with self._engine.begin() as connection:
            await connection.execute(
                update(users).where(users.c.subject_id == user.subject_id).values(**values)
            )

    async def set_password_hash(self, username: str, password_hash: str) -> bool:
        return await self._update(username, password_hash=password_hash)

    async def set_enabled(self, username: str, enabled: bool) -> bool:
        return await self._update(username, enabled=enabled)

    async def list_users(self, *, after: str | None = None, limit: int | None = None) -> list[User]:
        """Users by username; ``after``/``limit`` page through them (the admin API)."""
        query = select(users).order_by(users.c.username).limit(limit)
        if after is not None:
            query = query.where(users.c.username > after)
        async with self._engine.connect() as connection:
            result = await connection.execute(query)
            return [_user_from_row(row) for row in result.mappings()]

    async def _find(self, query: Select[Any], value: str) -> User | None:
        async with self._engine.connect() as connection:
            row = (await connection.execute(query, {"p_value": value})).mappings().first()
        return None if row is None else _user_from_row(row)

    async def _update(self, username: str, **values: Any) -> bool:
        async with self._engine.begin() as connection:
            result = await connection.execute(
                update(users)
                .where(users.c.username == username)
                .values(**values, updated_at=int(time.time()))
            )
        return bool(result.rowcount)


def _row_from_user(user: User) -> dict[str, Any]:
    return {
        "subject_id": user.subject_id,
        "username": user.username,
        "email": user.email,
        "email_verified": user.email_verified,
        "profile": dict(user.profile),
        "roles": list(user.roles),
        "custom_data": dict(user.custom_data),
        "enabled": user.enabled,
        "updated_at": user.updated_at or int(time.time()),
    }


def _user_from_row(row: Any) -> User:
    return User(
        subject_id=row["subject_id"],
        username=row["username"],
        email=row["email"],
        email_verified=bool(row["email_verified"]),
        profile=dict(row["profile"]),
        roles=tuple(row["roles"]),
        custom_data=dict(row["custom_data"]),
        enabled=bool(row["enabled"]),
        updated_at=row["updated_at"],
    )
