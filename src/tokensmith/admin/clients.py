"""Client administration: create, change, delete, rotate secrets of stored clients.

A body is checked by ``settings.ClientConfig``, the model the config file's
``[[clients]]`` go through, and turned into a ``Client`` by the same
``client_from_config``, so the API, the CLI and the file accept the same
things. Secrets are generated here (256 bits), returned once, and stored
hashed; a client_secret_jwt client's secret is its HMAC key and is stored
encrypted with the key-encryption key (see ``stores.sql.client_rows``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError

from tokensmith.admin.errors import Conflict, InvalidField, NotFound, invalid_body
from tokensmith.clientauth.secrets import generate_client_secret
from tokensmith.models.client import Client
from tokensmith.scopes import ADMIN_SCOPE, IDENTITY_SCOPES
from tokensmith.settings import TOKEN_EXCHANGE_GRANT, ClientConfig
from tokensmith.stores.config import client_from_config
from tokensmith.stores.protocols import ResourceStore
from tokensmith.stores.sql.client_rows import SECRET_FIELDS, to_json

SECRET_METHODS = frozenset({"client_secret_basic", "client_secret_post", "client_secret_jwt"})
"""Methods whose client holds a secret the server generates."""
SERVER_CHOSEN = ("client_secret", "client_secret_hash")


class ClientRecords(Protocol):
    """The stored clients: ``CachedClientStore`` in the server, ``SqlClientStore`` in the CLI."""

    async def find_client_by_id(self, client_id: str) -> Client | None: ...

    async def list_clients(self) -> list[Client]: ...

    async def add_client(self, client: Client) -> None: ...

    async def replace_client(self, client: Client) -> bool: ...

    async def remove_client(self, client_id: str) -> bool: ...


@dataclass(slots=True, frozen=True)
class ClientView:
    client: Client
    source: str
    """``config`` (read-only) or ``database``."""

    def as_json(self) -> dict[str, Any]:
        """Every field but the secret material, plus where the client comes from."""
        body = {
            f.name: to_json(getattr(self.client, f.name))
            for f in dataclasses.fields(self.client)
            if f.name not in SECRET_FIELDS
        }
        body["source"] = self.source
        return body


@dataclass(slots=True, frozen=True)
class IssuedClient:
    """A created or changed client, with the new secret when one was generated (shown once)."""

    view: ClientView
    client_secret: str | None

    def as_json(self) -> dict[str, Any]:
        body = self.view.as_json()
        if self.client_secret is not None:
            body["client_secret"] = self.client_secret
        return body


class ClientAdmin:
    def __init__(
        self,
        records: ClientRecords,
        configured: Iterable[Client],
        resources: ResourceStore,
        grant_types: Iterable[str] | None = None,
    ):
        """``grant_types``: those this server supports (None: do not check, as in the CLI)."""
        self._records = records
        self._configured: Mapping[str, Client] = {c.client_id: c for c in configured}
        self._resources = resources
        self._grant_types = None if grant_types is None else frozenset(grant_types)

    async def list_clients(self) -> list[ClientView]:
        stored = [
            ClientView(client, "database")
            for client in await self._records.list_clients()
            if client.client_id not in self._configured
        ]
        configured = [ClientView(client, "config") for client in self._configured.values()]
        return sorted([*configured, *stored], key=lambda view: view.client.client_id)

    async def get(self, client_id: str) -> ClientView:
        if client_id in self._configured:
            return ClientView(self._configured[client_id], "config")
        client = await self._records.find_client_by_id(client_id)
        if client is None:
            raise NotFound(f"no client {client_id!r}")
        return ClientView(client, "database")

    async def create(self, body: Mapping[str, Any]) -> IssuedClient:
        _refuse_server_chosen(body)
        method = str(body.get("token_endpoint_auth_method", "client_secret_basic"))
        secret = generate_client_secret() if method in SECRET_METHODS else None
        config = _validated({**body, **({"client_secret": secret} if secret else {})})
        self._check_writable(config.client_id)
        client = await self._checked(config)
        try:
            await self._records.add_client(client)
        except IntegrityError:
            raise Conflict(f"a client {config.client_id!r} exists already") from None
        return IssuedClient(ClientView(client, "database"), secret)

    async def update(self, client_id: str, body: Mapping[str, Any]) -> IssuedClient:
        """Replace everything about the client but its id and (where it still fits) its secret."""
        self._check_writable(client_id)
        _refuse_server_chosen(body)
        if body.get("client_id", client_id) != client_id:
            raise InvalidField("client_id: does not match the path", "client_id")
        current = (await self._writable(client_id)).client
        method = str(body.get("token_endpoint_auth_method", "client_secret_basic"))
        kept, secret = _secret_for(current, method)
        config = _validated({**body, "client_id": client_id, **kept})
        client = await self._checked(config)
        if "client_secret_hash" in kept:  # keep every current hash, not only the first
            client = dataclasses.replace(client, secret_hashes=current.secret_hashes)
        if not await self._records.replace_client(client):
            raise NotFound(f"no client {client_id!r}")
        return IssuedClient(ClientView(client, "database"), secret)

    async def delete(self, client_id: str) -> None:
        await self._writable(client_id)
        if not await self._records.remove_client(client_id):
            raise NotFound(f"no client {client_id!r}")

    async def rotate_secret(self, client_id: str) -> IssuedClient:
        """A new secret replaces the old one at once (the old one stops working)."""
        current = (await self._writable(client_id)).client
        method = current.token_endpoint_auth_method
        if method not in SECRET_METHODS:
            raise Conflict(f"a {method} client has no client secret", "token_endpoint_auth_method")
        secret = generate_client_secret()
        rebuilt = client_from_config(
            ClientConfig.model_validate(
                {
                    "client_id": client_id,
                    "token_endpoint_auth_method": method,
                    "client_secret": secret,
                    "grant_types": [],
                }
            )
        )
        client = dataclasses.replace(
            current,
            secret_hashes=rebuilt.secret_hashes,
            client_secret_jwt_hmac_key=rebuilt.client_secret_jwt_hmac_key,
        )
        if not await self._records.replace_client(client):
            raise NotFound(f"no client {client_id!r}")
        return IssuedClient(ClientView(client, "database"), secret)

    def _check_writable(self, client_id: str) -> None:
        if client_id in self._configured:
            raise Conflict(
                f"client {client_id!r} comes from the config file and is read-only here; "
                "change it in the file",
                "client_id",
            )

    async def _writable(self, client_id: str) -> ClientView:
        self._check_writable(client_id)
        return await self.get(client_id)

    async def _checked(self, config: ClientConfig) -> Client:
        """What the Settings model checks across sections: grants, scopes, exchange audiences."""
        if self._grant_types is not None:
            for index, grant_type in enumerate(config.grant_types):
                if grant_type not in self._grant_types:
                    raise InvalidField(
                        f"grant_types[{index}]: {grant_type!r} is not supported by this server",
                        f"grant_types[{index}]",
                    )
        known = {*IDENTITY_SCOPES, ADMIN_SCOPE, *await self._resources.all_scopes()}
        unknown = sorted(set(config.scopes) - known)
        if unknown:
            raise InvalidField(
                f"scopes: {unknown} not owned by any API resource nor an OpenID Connect scope",
                "scopes",
            )
        exchange = config.token_exchange
        if exchange is not None:
            if TOKEN_EXCHANGE_GRANT not in config.grant_types:
                raise InvalidField(
                    f"token_exchange: set, but grant_types lacks {TOKEN_EXCHANGE_GRANT}",
                    "token_exchange",
                )
            for audience in exchange.audiences:
                if await self._resources.find_api_resource(audience) is None:
                    raise InvalidField(
                        f"token_exchange.audiences: {audience!r} is no API resource",
                        "token_exchange.audiences",
                    )
        return client_from_config(config)


def _refuse_server_chosen(body: Mapping[str, Any]) -> None:
    for name in SERVER_CHOSEN:
        if name in body:
            raise InvalidField(
                f"{name}: the server generates client secrets (rotate with POST .../secret)", name
            )


def _validated(body: Mapping[str, Any]) -> ClientConfig:
    try:
        return ClientConfig.model_validate(dict(body))
    except ValidationError as exc:
        raise invalid_body(exc) from None


def _secret_for(current: Client, method: str) -> tuple[dict[str, str], str | None]:
    """The secret fields that let ``method`` validate, and the new secret if one was needed.

    A hash can stand in for a basic/post secret; client_secret_jwt needs the
    plain HMAC key, so switching to it from a hashed secret generates a new one.
    """
    if method not in SECRET_METHODS:
        return {}, None
    if method == "client_secret_jwt":
        if current.client_secret_jwt_hmac_key is not None:
            return {"client_secret": current.client_secret_jwt_hmac_key}, None
    elif current.secret_hashes:
        return {"client_secret_hash": current.secret_hashes[0]}, None
    secret = generate_client_secret()
    return {"client_secret": secret}, secret
