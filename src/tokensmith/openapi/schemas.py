"""Component schemas: protocol responses, and admin records built from their models."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from pydantic import BaseModel

from tokensmith.admin.users import NewUser, UserChanges
from tokensmith.settings import ApiResourceConfig, ClientConfig
from tokensmith.stores.sql.client_rows import SECRET_FIELDS, client_fields

_STRING = {"type": "string"}
_INTEGER = {"type": "integer"}
_BOOLEAN = {"type": "boolean"}
_NULL = {"type": "null"}
_OBJECT = {"type": "object"}
_OPTIONAL_INT = {"type": ["integer", "null"]}


def _obj(required: list[str], properties: dict[str, Any], extra: bool = True) -> dict[str, Any]:
    return {
        "type": "object",
        "required": required,
        "properties": properties,
        "additionalProperties": extra,
    }


def _from_hint(hint: Any) -> dict[str, Any]:
    """The JSON schema of a dataclass field as ``to_json`` writes it."""
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        return {"anyOf": [_from_hint(arg) for arg in typing.get_args(hint)]}
    if hint is type(None):
        return dict(_NULL)
    if origin in (frozenset, tuple, list):
        item = typing.get_args(hint)[0]
        return {"type": "array", "items": _from_hint(item)}
    if origin is dict or hint is dict:
        return dict(_OBJECT)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        hints = typing.get_type_hints(hint)
        properties = {f.name: _from_hint(hints[f.name]) for f in dataclasses.fields(hint)}
        return _obj(list(properties), properties)
    simple = {str: _STRING, int: _INTEGER, bool: _BOOLEAN, float: {"type": "number"}}
    return dict(simple.get(hint, {}))


def _client_schema() -> dict[str, Any]:
    fields = {n: _from_hint(h) for n, h in client_fields().items() if n not in SECRET_FIELDS}
    fields["source"] = {"enum": ["config", "database"]}
    schema = _obj(["client_id", "source"], fields)
    issued = _obj([], {"client_secret": {**_STRING, "description": "Shown once."}})
    return {
        "Client": schema,
        "IssuedClient": {"allOf": [{"$ref": "#/components/schemas/Client"}, issued]},
    }


def _model_schemas(models: dict[str, type[BaseModel]], drop: frozenset[str]) -> dict[str, Any]:
    """Pydantic JSON schemas with their $defs hoisted into components."""
    out: dict[str, Any] = {}
    for name, model in models.items():
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        out.update(schema.pop("$defs", {}))
        for field in drop:
            schema.get("properties", {}).pop(field, None)
        out[name] = schema
    return out


def _admin_schemas() -> dict[str, Any]:
    out = _model_schemas(
        {"ClientBody": ClientConfig}, frozenset({"client_secret", "client_secret_hash"})
    )
    out.update(
        _model_schemas(
            {"ResourceBody": ApiResourceConfig, "NewUser": NewUser, "UserChanges": UserChanges},
            frozenset(),
        )
    )
    out.update(_client_schema())
    out["Resource"] = _obj(
        ["audience", "scopes", "access_token_format", "source"],
        {
            "audience": _STRING,
            "name": {"type": ["string", "null"]},
            "scopes": {"type": "array", "items": _STRING},
            "access_token_format": {"enum": ["jwt", "opaque"]},
            "introspecting_clients": {"type": "array", "items": _STRING},
            "source": {"enum": ["config", "database"]},
        },
    )
    out["User"] = _obj(
        ["username", "sub", "enabled"],
        {
            "username": _STRING,
            "sub": _STRING,
            "email": {"type": ["string", "null"]},
            "email_verified": _BOOLEAN,
            "profile": _OBJECT,
            "roles": {"type": "array", "items": _STRING},
            "custom_data": _OBJECT,
            "enabled": _BOOLEAN,
            "updated_at": _INTEGER,
        },
    )
    out["UserPage"] = _obj(
        ["users", "next"],
        {
            "users": {"type": "array", "items": {"$ref": "#/components/schemas/User"}},
            "next": {"type": ["string", "null"], "description": "`after` of the next page."},
        },
    )
    out["Password"] = _obj(["password"], {"password": _STRING}, extra=False)
    out["Key"] = _obj(
        ["kid", "alg", "status", "created_at", "activates_at"],
        {
            "kid": _STRING,
            "alg": _STRING,
            "status": {"enum": ["next", "active", "retired", "expired"]},
            "created_at": _INTEGER,
            "activates_at": _INTEGER,
            "retired_at": _OPTIONAL_INT,
            "remove_after": _OPTIONAL_INT,
        },
    )
    out["Rotation"] = _obj([], {"immediately": _BOOLEAN}, extra=False)
    out["ScriptSummary"] = _obj(["kind", "updated_at"], {"kind": _STRING, "updated_at": _INTEGER})
    out["Script"] = _obj(
        ["kind", "source", "updated_at"],
        {"kind": _STRING, "source": _STRING, "updated_at": _INTEGER},
    )
    out["ScriptBody"] = _obj(["source"], {"source": _STRING})
    out["ScriptTest"] = _obj(
        [],
        {
            "script": _STRING,
            "kind": {"enum": ["user", "machine", "id_token"]},
            "token": _OBJECT,
            "context": _OBJECT,
        },
    )
    out["ScriptTestResult"] = _obj(["outcome"], {"outcome": {"enum": ["issued", "refused"]}})
    return out


def _protocol_schemas() -> dict[str, Any]:
    return {
        "OAuthError": _obj(
            ["error"],
            {"error": _STRING, "error_description": _STRING, "error_uri": _STRING},
        ),
        "BearerError": {
            **_obj([], {"error": _STRING, "error_description": _STRING}),
            "description": "RFC 6750 section 3: empty when no token was sent.",
        },
        "AdminError": _obj(
            ["error"],
            {
                "error": _STRING,
                "error_description": _STRING,
                "error_uri": _STRING,
                "field": {**_STRING, "description": "The body field that was refused."},
            },
        ),
        "TokenResponse": _obj(
            ["access_token", "token_type"],
            {
                "access_token": _STRING,
                "token_type": _STRING,
                "expires_in": _INTEGER,
                "refresh_token": _STRING,
                "id_token": _STRING,
                "scope": _STRING,
                "issued_token_type": _STRING,
            },
        ),
        "Introspection": _obj(["active"], {"active": _BOOLEAN}),
        "DeviceAuthorization": _obj(
            ["device_code", "user_code", "verification_uri", "expires_in"],
            {
                "device_code": _STRING,
                "user_code": _STRING,
                "verification_uri": _STRING,
                "verification_uri_complete": _STRING,
                "expires_in": _INTEGER,
                "interval": _INTEGER,
            },
        ),
        "BackchannelAuthentication": _obj(
            ["auth_req_id", "expires_in"],
            {"auth_req_id": _STRING, "expires_in": _INTEGER, "interval": _INTEGER},
        ),
        "PushedAuthorization": _obj(
            ["request_uri", "expires_in"], {"request_uri": _STRING, "expires_in": _INTEGER}
        ),
        "UserInfo": _obj(["sub"], {"sub": _STRING}),
        "Discovery": _obj(
            ["issuer", "token_endpoint", "jwks_uri"],
            {"issuer": _STRING, "token_endpoint": _STRING, "jwks_uri": _STRING},
        ),
        "JwkSet": _obj(["keys"], {"keys": {"type": "array", "items": _OBJECT}}),
        "Health": _obj(
            ["status"],
            {
                "status": {"enum": ["ok", "unavailable"]},
                "database": {"enum": ["ok", "unreachable"]},
            },
        ),
    }


def component_schemas() -> dict[str, Any]:
    return {**_protocol_schemas(), **_admin_schemas()}
