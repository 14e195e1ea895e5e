"""UserAuthenticator: checks a username and password; replaceable by a deployment.

A deployment with its own user directory (LDAP, an existing database)
implements this protocol and the UserStore lookups, and registers it in
``Services(user_authenticator=...)``.
"""

from __future__ import annotations

from typing import Protocol

from tokensmith.models.user import User
from tokensmith.stores.sql.users import SqlUserStore
from tokensmith.users.passwords import verify_password


class UserAuthenticator(Protocol):
    async def authenticate(self, username: str, password: str) -> User | None:
        """The user when the credentials are right and the user is enabled; else None."""
        ...


class StoredUserAuthenticator:
    """Authenticates against the built-in user store's argon2 hashes."""

    def __init__(self, users: SqlUserStore):
        self._users = users

    async def authenticate(self, username: str, password: str) -> User | None:
        found = await self._users.get_password_hash(username)
        user, password_hash = found if found is not None else (None, None)
        if not await verify_password(password_hash, password):
            return None
        if user is None or not user.enabled:
            return None
        return user
