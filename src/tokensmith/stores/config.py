"""Clients and API resources declared in the config file, held in memory.

The file is the source of truth for these records: they are read once at
start-up and never written back, so a lookup is a dict access.
"""

from __future__ import annotations

from collections.abc import Iterable

from tokensmith.clientauth.secrets import hash_client_secret
from tokensmith.models.client import Client, TokenExchangePolicy
from tokensmith.models.resource import ApiResource
from tokensmith.settings import ApiResourceConfig, ClientConfig, TokenExchangePolicyConfig
from tokensmith.stores.protocols import ClientStore


def client_from_config(config: ClientConfig) -> Client:
    hashes: tuple[str, ...] = ()
    if config.client_secret is not None:
        hashes = (hash_client_secret(config.client_secret.get_secret_value()),)
    elif config.client_secret_hash is not None:
        hashes = (config.client_secret_hash,)
    return Client(
        client_id=config.client_id,
        client_name=config.client_name,
        token_endpoint_auth_method=config.token_endpoint_auth_method,
        grant_types=frozenset(config.grant_types),
        scopes=frozenset(config.scopes),
        secret_hashes=hashes,
        redirect_uris=tuple(config.redirect_uris),
        post_logout_redirect_uris=tuple(config.post_logout_redirect_uris),
        require_pkce=config.require_pkce,
        require_consent=config.require_consent,
        require_pushed_authorization_requests=config.require_pushed_authorization_requests,
        always_issue_refresh_token=config.always_issue_refresh_token,
        refresh_token_rotation=config.refresh_token_rotation,
        dpop_bound_access_tokens=config.dpop_bound_access_tokens,
        backchannel_token_delivery_mode=config.backchannel_token_delivery_mode,
        backchannel_client_notification_endpoint=config.backchannel_client_notification_endpoint,
        access_token_format=config.access_token_format,
        access_token_lifetime=config.access_token_lifetime,
        token_exchange=_token_exchange_policy(config.token_exchange),
        jwks=config.jwks,
        jwks_uri=config.jwks_uri,
        token_endpoint_auth_signing_alg=config.token_endpoint_auth_signing_alg,
        client_secret_jwt_hmac_key=_hmac_key(config),
    )


def _hmac_key(config: ClientConfig) -> str | None:
    """client_secret_jwt keeps its secret in plain: it is the key that checks the HMAC."""
    if config.token_endpoint_auth_method != "client_secret_jwt" or config.client_secret is None:
        return None
    return config.client_secret.get_secret_value()


def _token_exchange_policy(config: TokenExchangePolicyConfig | None) -> TokenExchangePolicy | None:
    if config is None:
        return None
    return TokenExchangePolicy(
        subject_token_types=frozenset(config.subject_token_types),
        actor_token_types=frozenset(config.actor_token_types),
        audiences=frozenset(config.audiences),
        allow_impersonation=config.allow_impersonation,
        allow_delegation=config.allow_delegation,
    )


def resource_from_config(config: ApiResourceConfig) -> ApiResource:
    return ApiResource(
        audience=config.audience,
        name=config.name,
        scopes=frozenset(config.scopes),
        access_token_format=config.access_token_format,
        introspecting_clients=frozenset(config.introspecting_clients),
    )


class ChainedClientStore:
    """Config clients first, then the database: the file wins on a shared id."""

    def __init__(self, configured: Iterable[Client], stored: ClientStore):
        self._configured = {client.client_id: client for client in configured}
        self._stored = stored

    async def find_client_by_id(self, client_id: str) -> Client | None:
        client = self._configured.get(client_id)
        if client is not None:
            return client
        return await self._stored.find_client_by_id(client_id)


class ConfigResourceStore:
    """API resources from the config file, indexed by audience and by scope."""

    def __init__(self, resources: Iterable[ApiResource]):
        self._by_audience = {resource.audience: resource for resource in resources}
        self._by_scope: dict[str, list[ApiResource]] = {}
        for resource in self._by_audience.values():
            for scope in resource.scopes:
                self._by_scope.setdefault(scope, []).append(resource)
        # Read on every token request (scope narrowing): sort once, not per request.
        self._sorted_scopes = tuple(sorted(self._by_scope))

    async def find_api_resources_by_scope(self, scopes: Iterable[str]) -> list[ApiResource]:
        found: dict[str, ApiResource] = {}
        for scope in scopes:
            for resource in self._by_scope.get(scope, ()):
                found[resource.audience] = resource
        return list(found.values())

    async def find_api_resource(self, audience: str) -> ApiResource | None:
        return self._by_audience.get(audience)

    async def all_scopes(self) -> list[str]:
        return list(self._sorted_scopes)

    async def generation(self) -> object:
        """The same object while the answers above stay the same: these never change."""
        return self
