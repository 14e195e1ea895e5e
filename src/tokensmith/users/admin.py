"""User administration behind ``tokensmith users``: the rules, apart from Click.

Keeping the password rule, the duplicate check and the store calls here lets
the CLI stay a thin layer of options and output, and lets an admin API reuse
the same rules later. Nothing here returns or formats password material.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Final

from sqlalchemy.exc import IntegrityError

from tokensmith.models.user import User
from tokensmith.settings import Settings
from tokensmith.stores.sql.engine import create_engine, create_schema
from tokensmith.stores.sql.users import SqlUserStore
from tokensmith.users.passwords import configure_password_hashing, hash_password

MIN_PASSWORD_LENGTH: Final = 8


class UserAdminError(Exception):
    """A refused change; the message is meant for the operator and holds no secret."""


@asynccontextmanager
async def open_user_store(settings: Settings) -> AsyncIterator[SqlUserStore]:
    """The configured database's user store, schema created, engine disposed afterwards.

    The schema is created here as ``serve`` does, so that users can be added
    before the server has ever started.
    """
    if settings.database.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    configure_password_hashing(settings)
    engine = create_engine(settings.database)
    try:
        await create_schema(engine)
        yield SqlUserStore(engine)
    finally:
        await engine.dispose()


def check_password(password: str) -> None:
    """Refuse passwords too short to be worth hashing; the length is the only rule."""
    if not password:
        raise UserAdminError("the password is empty")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserAdminError(f"the password is shorter than {MIN_PASSWORD_LENGTH} characters")


def new_subject_id() -> str:
    """A fresh random ``sub``: an administrator's user has no natural key to derive one from.

    (Config-file users get a uuid5 of their username instead, so that a seeded
    user keeps its ``sub`` across fresh databases.)
    """
    return uuid.uuid4().hex


async def create_user(store: SqlUserStore, user: User, password: str) -> None:
    """Store ``user`` with an argon2 hash of ``password``; a taken username writes nothing."""
    check_password(password)
    taken = UserAdminError(f"a user named {user.username!r} already exists")
    if await store.find_user_by_username(user.username) is not None:
        raise taken
    password_hash = await asyncio.to_thread(hash_password, password)
    try:
        await store.add_user(user, password_hash)
    except IntegrityError:
        # Another process added the same username between the check and the insert.
        raise taken from None


async def change_password(store: SqlUserStore, username: str, password: str) -> None:
    check_password(password)
    password_hash = await asyncio.to_thread(hash_password, password)
    if not await store.set_password_hash(username, password_hash):
        raise _unknown(username)


async def set_enabled(store: SqlUserStore, username: str, enabled: bool) -> None:
    """Disabling keeps the user and their ``sub``; only authentication is refused."""
    if not await store.set_enabled(username, enabled):
        raise _unknown(username)


def user_as_json(user: User) -> dict[str, Any]:
    """Everything stored about a user except the password hash, which User never carries."""
    return {
        "username": user.username,
        "sub": user.subject_id,
        "email": user.email,
        "email_verified": user.email_verified,
        "profile": user.profile,
        "roles": list(user.roles),
        "custom_data": user.custom_data,
        "enabled": user.enabled,
        "updated_at": user.updated_at,
    }


def user_as_columns(user: User) -> tuple[str, ...]:
    """The fields ``users list`` shows, with ``-`` for an empty one so columns stay aligned."""
    return (
        user.username,
        user.subject_id,
        user.email or "-",
        ",".join(user.roles) or "-",
        "enabled" if user.enabled else "disabled",
    )


def _unknown(username: str) -> UserAdminError:
    return UserAdminError(f"no user named {username!r}")


__all__ = [
    "MIN_PASSWORD_LENGTH",
    "UserAdminError",
    "change_password",
    "check_password",
    "create_user",
    "new_subject_id",
    "open_user_store",
    "set_enabled",
    "user_as_columns",
    "user_as_json",
]
