"""Keeping users from a pluggable directory resolvable by ``sub``.

A custom UserAuthenticator may know users the built-in store does not. Sessions,
code redemption and userinfo look users up by subject, so a user who signs
in is recorded (or refreshed) in the store, without a password, the way
identity brokers import federated users on first login.
"""

from __future__ import annotations

from dataclasses import replace

from tokensmith.models.user import User
from tokensmith.stores.sql.users import SqlUserStore


async def provision_user(users: SqlUserStore, user: User) -> None:
    stored = await users.find_user_by_subject(user.subject_id)
    if stored is None:
        await users.add_user(user, password_hash=None)
    elif replace(stored, updated_at=user.updated_at) != user:
        await users.update_profile(user)
