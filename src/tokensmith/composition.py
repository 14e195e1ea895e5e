"""The composition root: every component of the server, built once, by name.

``compose`` builds the stores, keys and pipeline stages chosen by ``Services``;
the HTTP app and the CLI (claims preview, dry runs) share it, so both see
exactly the same pipeline.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from tokensmith._imports import import_string
from tokensmith._inject import build
from tokensmith.bootstrap import seed_configured_users
from tokensmith.ciba.store import BackchannelRequestStore
from tokensmith.clientauth.base import ClientAuthenticatorRegistry
from tokensmith.demo import DEMO_RESOURCE, is_demo_mode
from tokensmith.grants import PasswordGrant
from tokensmith.grants.base import GrantRegistry
from tokensmith.housekeeping import PurgeTimer
from tokensmith.keys.encryption import load_key_encryptor
from tokensmith.keys.manager import KeyManager
from tokensmith.keys.policy import KeyPolicy
from tokensmith.keys.refresher import KeyRefresher
from tokensmith.keys.signing_turns import SigningTurns
from tokensmith.models.grant import GrantKind
from tokensmith.models.resource import ApiResource
from tokensmith.scopes import ADMIN_SCOPE
from tokensmith.services import Services
from tokensmith.settings import ConfigError, Settings
from tokensmith.stores.config import (
    ChainedClientStore,
    client_from_config,
    resource_from_config,
)
from tokensmith.stores.protocols import GrantStore
from tokensmith.stores.redis import SHORT_LIVED_KINDS, RedisGrantStore, RoutingGrantStore
from tokensmith.stores.sql.claim_scripts import SqlClaimScriptStore
from tokensmith.stores.sql.client_cache import CachedClientStore
from tokensmith.stores.sql.clients import SqlClientStore
from tokensmith.stores.sql.engine import create_engine, create_schema
from tokensmith.stores.sql.grants import SqlGrantStore
from tokensmith.stores.sql.keys import SqlKeyStore
from tokensmith.stores.sql.resources import ChainedResourceStore, SqlResourceStore
from tokensmith.stores.sql.users import SqlUserStore
from tokensmith.tokens.custom_claims import CustomClaimsService
from tokensmith.tokens.formats.jwt import JwtAccessTokenFormat
from tokensmith.tokens.formats.opaque import OpaqueAccessTokenFormat
from tokensmith.trust import TrustedIssuers
from tokensmith.users.passwords import configure_password_hashing
from tokensmith.users.throttle import LoginThrottle

Components = dict[str, Any]


def compose(settings: Settings, services: Services | None = None) -> Components:
    """Every component, keyed by the name stages ask for in their constructors."""
    services = (services or Services()).resolve(settings)
    configure_password_hashing(settings)
    components = _stores(settings)
    components["custom_claims"] = CustomClaimsService(settings, components["claim_scripts"])
    components["signing_turns"] = SigningTurns(use_signing_process=settings.signing_process == "on")
    for stage in ("claims_service", "profile_service", "token_service", "token_creation"):
        components[stage] = build(services.stage(stage), components)
    components["user_authenticator"] = build(services.stage("user_authenticator"), components)
    components["refresh_token_service"] = build(services.stage("refresh_token_service"), components)
    components["opaque_tokens"] = OpaqueAccessTokenFormat(
        components["token_creation"], components["grants"]
    )
    components["access_token_formats"] = {
        "jwt": JwtAccessTokenFormat(components["token_creation"]),
        "opaque": components["opaque_tokens"],
    }
    components["response_generator"] = build(services.stage("token_response_generator"), components)
    components["backchannel_requests"] = BackchannelRequestStore(
        components["engine"], load_key_encryptor(settings)
    )
    components["backchannel_user_notifier"] = build(
        services.stage("backchannel_user_notifier"), components
    )
    grant_classes = [*services.grants, *services.extension_grants]
    grant_classes += [
        _grant_class(value, f"extension_grants[{index}]")
        for index, value in enumerate(settings.extension_grants)
    ]
    if settings.password_grant_enabled:
        grant_classes.append(PasswordGrant)
    grants = GrantRegistry(build(grant, components) for grant in grant_classes)
    _check_client_grants(settings, grants)
    components["grant_registry"] = grants
    components["client_authentication"] = ClientAuthenticatorRegistry(
        (build(cls, components) for cls in services.client_authenticators),
        components["clients"],
    )
    return components


async def start(components: Components) -> None:
    """Schema, signing key and configured users: what must exist before serving."""
    settings: Settings = components["settings"]
    if components["engine"].dialect.name == "sqlite":
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    await create_schema(components["engine"])
    await components["keys"].refresh()  # the first key, or the next if the active one is old
    await seed_configured_users(settings, components["users"])
    components["key_refresher"] = KeyRefresher(components["keys"], settings.key_reload_seconds)
    components["key_refresher"].start()
    components["purge_timer"] = PurgeTimer(components["sql_grants"], settings)
    components["purge_timer"].start()


async def stop(components: Components) -> None:
    if "key_refresher" in components:
        await components["key_refresher"].stop()
    if "purge_timer" in components:
        await components["purge_timer"].stop()
    await components["custom_claims"].aclose()
    await components["signing_turns"].aclose()
    if components["redis"] is not None:
        await components["redis"].aclose()
    await components["engine"].dispose()


def _grant_class(value: str, key: str) -> type[Any]:
    target = import_string(value, key=key)
    if not isinstance(target, type) or not isinstance(getattr(target, "grant_type", None), str):
        raise ConfigError(f"{key}: {value!r} is not a grant validator class (no grant_type)")
    return target


def admin_api_resource(settings: Settings) -> ApiResource:
    """The server's own admin API, whose tokens need the admin scope."""
    return ApiResource(
        audience=f"{settings.issuer_url}/admin",
        scopes=frozenset({ADMIN_SCOPE}),
        name="tokensmith admin API",
    )


def _stores(settings: Settings) -> Components:
    engine = create_engine(
        settings.database,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        sqlite_synchronous=settings.sqlite_synchronous,
        sqlite_process=settings.sqlite_process == "on",
    )
    resources = [resource_from_config(r) for r in settings.api_resources]
    resources.append(admin_api_resource(settings))
    if is_demo_mode(settings):
        resources.append(DEMO_RESOURCE)
    sql_grants = SqlGrantStore(engine)
    # Cached: the token endpoint looks clients up per request (see stores/sql/client_cache.py).
    sql_clients = CachedClientStore(SqlClientStore(engine, load_key_encryptor(settings)))
    redis = None if settings.redis_url is None else Redis.from_url(settings.redis_url)
    grants = sql_grants if redis is None else _routed_grants(settings, sql_grants, redis)
    return {
        "settings": settings,
        "engine": engine,
        "clients": ChainedClientStore(
            [client_from_config(c) for c in settings.clients], sql_clients
        ),
        "sql_clients": sql_clients,
        "resources": ChainedResourceStore(resources, SqlResourceStore(engine)),
        "keys": KeyManager(
            SqlKeyStore(engine), load_key_encryptor(settings), KeyPolicy.from_settings(settings)
        ),
        "grants": grants,
        "sql_grants": sql_grants,
        "redis": redis,
        "users": SqlUserStore(engine),
        "claim_scripts": SqlClaimScriptStore(engine),
        # Whose JWTs are accepted (JWT bearer, token exchange, CIBA login_hint_token):
        # their key sets are parsed once and shared.
        "trusted_issuers": TrustedIssuers.from_settings(settings),
        "login_throttle": LoginThrottle(
            grants, settings.login_max_failures, settings.login_lockout_seconds
        ),
    }


def _routed_grants(settings: Settings, sql: SqlGrantStore, client: Redis) -> GrantStore:
    """Short-lived kinds in Redis, the rest in SQL.

    CIBA requests stay in SQL: BackchannelRequestStore lists and decides them
    with queries on the grants table itself, which Redis records would miss.
    """
    redis = RedisGrantStore(client, settings.redis_key_prefix, settings.purge_grace_seconds)
    return RoutingGrantStore(sql, redis, SHORT_LIVED_KINDS - {GrantKind.BACKCHANNEL_REQUEST})


def _check_client_grants(settings: Settings, grants: GrantRegistry) -> None:
    for index, client in enumerate(settings.clients):
        for position, grant_type in enumerate(client.grant_types):
            if grants.get(grant_type) is None:
                raise ConfigError(
                    f"clients[{index}].grant_types[{position}]: {grant_type!r} is not supported "
                    f"by this server (supported: {', '.join(grants.grant_types)})"
                )
