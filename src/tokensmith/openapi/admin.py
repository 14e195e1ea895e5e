"""Paths of the admin API: clients, API resources, users, signing keys, claims scripts."""

from __future__ import annotations

from typing import Any

from tokensmith.openapi._shapes import errors, json_body, ref, unavailable

_ADMIN: list[dict[str, list[str]]] = [{"adminBearer": []}]
_NO_CONTENT = {"204": {"description": "Done"}}


def _operation(
    summary: str,
    ok: dict[str, Any],
    *statuses: int,
    body: str | None = None,
    parameters: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "security": _ADMIN,
        # 400 always: a malformed Authorization header is refused before the handler runs.
        "responses": {
            **ok,
            **errors("BearerError", 401, 403),
            **errors("AdminError", 400, *statuses),
            **unavailable(),
        },
    }
    if body is not None:
        operation["requestBody"] = {"required": True, **json_body(ref(body), summary)}
    if parameters:
        operation["parameters"] = parameters
    return operation


def _path_parameter(name: str) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
    ]


def _ok(schema: str, status: str = "200", description: str = "OK") -> dict[str, Any]:
    return {status: json_body(ref(schema), description)}


def _list(schema: str) -> dict[str, Any]:
    return {"200": json_body({"type": "array", "items": ref(schema)}, "OK")}


def _records(kind: str, key: str, body: str, schema: str, created: str) -> dict[str, Any]:
    """List/create on the collection; show/replace/delete on one record."""
    item = _path_parameter(key)
    return {
        f"/admin/{kind}": {
            "get": _operation(f"List {kind}", _list(schema)),
            "post": _operation(
                f"Create one of the {kind}",
                _ok(created, "201", "Created"),
                400,
                409,
                413,
                body=body,
            ),
        },
        f"/admin/{kind}/{{{key}}}": {
            "parameters": item,
            "get": _operation(f"Show one of the {kind}", _ok(schema), 404),
            "put": _operation(
                f"Replace one of the {kind}", _ok(created), 400, 404, 409, 413, body=body
            ),
            "delete": _operation(f"Delete one of the {kind}", _NO_CONTENT, 404, 409),
        },
    }


def _users() -> dict[str, Any]:
    user = _path_parameter("username")
    page = [
        {"name": "after", "in": "query", "schema": {"type": "string"}},
        {
            "name": "limit",
            "in": "query",
            "schema": {"type": "integer", "minimum": 1, "maximum": 200},
        },
    ]
    return {
        "/admin/users": {
            "get": _operation("List users, by username", _ok("UserPage"), 400, parameters=page),
            "post": _operation("Create a user", _ok("User", "201"), 400, 409, 413, body="NewUser"),
        },
        "/admin/users/{username}": {
            "parameters": user,
            "get": _operation("Show a user", _ok("User"), 404),
            "patch": _operation(
                "Change profile, roles, custom data, enabled",
                _ok("User"),
                400,
                404,
                413,
                body="UserChanges",
            ),
        },
        "/admin/users/{username}/password": {
            "parameters": user,
            "put": _operation("Set a user's password", _NO_CONTENT, 400, 404, 413, body="Password"),
        },
    }


def _keys() -> dict[str, Any]:
    rotate = _operation("Add a signing key", _ok("Key", "201"), 400, 409, 413)
    rotate["requestBody"] = {"required": False, **json_body(ref("Rotation"), "Options")}
    return {
        "/admin/keys": {"get": _operation("List signing keys", _list("Key"))},
        "/admin/keys/rotate": {"post": rotate},
        "/admin/keys/{kid}/retire": {
            "parameters": _path_parameter("kid"),
            "post": _operation("Stop a key signing", _ok("Key"), 404, 409),
        },
    }


def _scripts() -> dict[str, Any]:
    kind = [
        {
            "name": "kind",
            "in": "path",
            "required": True,
            "schema": {"enum": ["user", "machine", "id_token"]},
        }
    ]
    return {
        "/admin/claims/scripts": {"get": _operation("List stored scripts", _list("ScriptSummary"))},
        "/admin/claims/scripts/{kind}": {
            "parameters": kind,
            "get": _operation("Show a stored script", _ok("Script"), 400, 404),
            "put": _operation("Save a script", _NO_CONTENT, 400, 413, body="ScriptBody"),
            "delete": _operation("Delete a script", _NO_CONTENT, 400, 404),
        },
        "/admin/claims/test": {
            "post": _operation(
                "Dry-run a script", _ok("ScriptTestResult"), 400, 413, body="ScriptTest"
            )
        },
    }


def admin_paths() -> dict[str, Any]:
    clients = _records("clients", "client_id", "ClientBody", "Client", "IssuedClient")
    clients["/admin/clients/{client_id}/secret"] = {
        "parameters": _path_parameter("client_id"),
        "post": _operation("Rotate the client secret", _ok("IssuedClient"), 404, 409),
    }
    return {
        **clients,
        **_records("resources", "audience", "ResourceBody", "Resource", "Resource"),
        **_users(),
        **_keys(),
        **_scripts(),
    }
