"""Clients as rows: every ``Client`` field, found by ``dataclasses.fields``, as JSON.

Other parts of the server keep adding fields to ``Client``; building the
stored metadata from the dataclass itself means a new field is persisted (and
read back with its declared type) without touching this module or the schema.
Secrets are the exception: the secret hashes have their own column and the
client_secret_jwt HMAC key is stored encrypted, never in the JSON.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import types
import typing
from typing import Any

from tokensmith.keys.encryption import KeyEncryptor
from tokensmith.models.client import Client
from tokensmith.settings import ConfigError

logger = logging.getLogger(__name__)

SECRET_FIELDS = frozenset({"secret_hashes", "client_secret_jwt_hmac_key"})
"""Fields never written to the metadata JSON (nor shown by the admin API)."""


def to_json(value: Any) -> Any:
    """A JSON-ready copy: dataclasses as objects, sets sorted, tuples as lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, frozenset | set):
        return sorted(to_json(item) for item in value)
    if isinstance(value, tuple | list):
        return [to_json(item) for item in value]
    if isinstance(value, dict):
        return {str(key): to_json(item) for key, item in value.items()}
    return value


def from_json(hint: Any, value: Any) -> Any:
    """``value`` (from ``to_json``) turned back into the type ``hint`` declares."""
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        options = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return from_json(options[0], value) if len(options) == 1 else value
    if origin is frozenset:
        return frozenset(value)
    if origin is tuple:
        return tuple(value)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return dataclass_from_json(hint, value)
    return value


def dataclass_from_json(cls: type[Any], data: dict[str, Any]) -> Any:
    """An instance of ``cls`` from the keys of ``data`` it declares (others are ignored)."""
    hints = _hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    return cls(**{name: from_json(hints[name], data[name]) for name in data if name in known})


_HINTS: dict[type[Any], dict[str, Any]] = {}


def _hints(cls: type[Any]) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def client_fields() -> dict[str, Any]:
    """Every ``Client`` field and its resolved type (the admin API's schema is built from it)."""
    return dict(_hints(Client))


def row_from_client(client: Client, encryptor: KeyEncryptor | None) -> dict[str, Any]:
    """The row of ``client``: lookup columns, the metadata JSON, the encrypted HMAC key."""
    encrypted: bytes | None = None
    if client.client_secret_jwt_hmac_key is not None:
        if encryptor is None:
            raise ValueError("storing a client_secret_jwt client needs the key-encryption key")
        encrypted = encryptor.encrypt(client.client_secret_jwt_hmac_key.encode())
    now = int(time.time())
    return {
        "client_id": client.client_id,
        "client_name": client.client_name,
        "token_endpoint_auth_method": client.token_endpoint_auth_method,
        "secret_hashes": list(client.secret_hashes),
        "grant_types": sorted(client.grant_types),
        "scopes": sorted(client.scopes),
        "redirect_uris": list(client.redirect_uris),
        "access_token_format": client.access_token_format,
        "access_token_lifetime": client.access_token_lifetime,
        "enabled": client.enabled,
        "client_metadata": client_metadata(client),
        "encrypted_hmac_key": encrypted,
        "created_at": now,
        "updated_at": now,
    }


def client_metadata(client: Client) -> dict[str, Any]:
    return {
        f.name: to_json(getattr(client, f.name))
        for f in dataclasses.fields(client)
        if f.name not in SECRET_FIELDS
    }


def client_from_row(row: Any, encryptor: KeyEncryptor | None) -> Client:
    """A stored client; rows from before migration 0003 have only their columns."""
    data: dict[str, Any] = {
        "client_id": row["client_id"],
        "client_name": row["client_name"],
        "token_endpoint_auth_method": row["token_endpoint_auth_method"],
        "grant_types": row["grant_types"],
        "scopes": row["scopes"],
        "redirect_uris": row["redirect_uris"],
        "access_token_format": row["access_token_format"],
        "access_token_lifetime": row["access_token_lifetime"],
        "enabled": bool(row["enabled"]),
    }
    data.update(row["client_metadata"] or {})
    data["secret_hashes"] = row["secret_hashes"]
    if row["encrypted_hmac_key"] is not None and encryptor is not None:
        try:
            data["client_secret_jwt_hmac_key"] = encryptor.decrypt(
                row["encrypted_hmac_key"]
            ).decode()
        except ConfigError:
            # Another key-encryption key than the one that stored it: without its HMAC
            # key the client cannot authenticate (fails closed) rather than a 500 per request.
            logger.error("client %s: cannot decrypt its HMAC key with this KEK", row["client_id"])
    client: Client = dataclass_from_json(Client, data)
    return client
