"""First-start preparation, run once by ``tokensmith serve`` before workers start.

Creating the schema, the signing key and the demo client here, in one
process, keeps those one-time writes out of the request path.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from tokensmith.demo import DemoCredentials, create_demo_client, is_demo_mode
from tokensmith.keys.encryption import load_key_encryptor
from tokensmith.keys.manager import KeyManager
from tokensmith.models.user import User
from tokensmith.scopes import STANDARD_PROFILE_CLAIMS
from tokensmith.settings import Settings, UserConfig
from tokensmith.stores.sql.clients import SqlClientStore
from tokensmith.stores.sql.engine import create_engine, create_schema
from tokensmith.stores.sql.keys import SqlKeyStore
from tokensmith.stores.sql.users import SqlUserStore
from tokensmith.users.passwords import configure_password_hashing, hash_password


@dataclass(slots=True, frozen=True)
class Prepared:
    signing_kid: str
    demo: DemoCredentials | None


async def prepare(settings: Settings) -> Prepared:
    """Make the data folder, schema and signing key exist; create the demo client if due."""
    if settings.database.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    configure_password_hashing(settings)
    engine = create_engine(settings.database)
    try:
        await create_schema(engine)
        keys = KeyManager(SqlKeyStore(engine), load_key_encryptor(settings))
        await keys.ensure_signing_key()
        demo = await create_demo_client(SqlClientStore(engine)) if is_demo_mode(settings) else None
        await seed_configured_users(settings, SqlUserStore(engine))
        return Prepared(signing_kid=keys.active.kid, demo=demo)
    finally:
        await engine.dispose()


def user_from_config(config: UserConfig) -> User:
    """Split a config user's ``claims``: standard ones to the profile, roles, the rest custom."""
    claims = dict(config.claims)
    roles = claims.pop("roles", [])
    profile = {k: v for k, v in claims.items() if k in STANDARD_PROFILE_CLAIMS}
    custom = {k: v for k, v in claims.items() if k not in STANDARD_PROFILE_CLAIMS}
    return User(
        subject_id=uuid.uuid5(uuid.NAMESPACE_URL, f"tokensmith:user:{config.username}").hex,
        username=config.username,
        email=config.email,
        email_verified=config.email_verified and config.email is not None,
        profile=profile,
        roles=tuple(str(role) for role in roles),
        custom_data=custom,
    )


async def seed_configured_users(settings: Settings, users: SqlUserStore) -> None:
    """Create the config file's users that the database does not have yet.

    Existing users are left alone, so a password changed with the CLI stays
    changed across restarts.
    """
    for config in settings.users:
        if await users.find_user_by_username(config.username) is None:
            password_hash = await asyncio.to_thread(
                hash_password, config.password.get_secret_value()
            )
            # IntegrityError: another process created it first.
            with contextlib.suppress(IntegrityError):
                await users.add_user(user_from_config(config), password_hash)
