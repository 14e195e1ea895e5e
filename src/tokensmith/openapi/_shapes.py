"""Small builders for repeated OpenAPI fragments."""

from __future__ import annotations

from typing import Any

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
HTML = "text/html"

CLIENT_AUTH: list[dict[str, list[str]]] = [{"clientBasic": []}, {}]
"""HTTP Basic, or client_id (and client_secret / client_assertion) in the form."""
_CLIENT_FIELDS = {
    "client_id": {"type": "string"},
    "client_secret": {"type": "string"},
    "client_assertion": {"type": "string"},
    "client_assertion_type": {"type": "string"},
}


def ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def json_body(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def page(description: str) -> dict[str, Any]:
    """An HTML page for a person in a browser: its body is not for a program to read."""
    return {"description": description, "content": {HTML: {"schema": {"type": "string"}}}}


def errors(schema: str, *statuses: int) -> dict[str, Any]:
    """Error answers, all of them one JSON error object."""
    described = {
        400: "Bad request",
        401: "Not authenticated",
        403: "Not allowed",
        404: "Not found",
        409: "Conflict",
        413: "Body too large",
        429: "Too many requests",
    }
    return {str(status): json_body(ref(schema), described[status]) for status in statuses}


def unavailable() -> dict[str, Any]:
    """503 temporarily_unavailable: the database was busy or unreachable; nothing was done."""
    answer = json_body(ref("OAuthError"), "Database busy or unreachable; retry after Retry-After")
    retry = {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}
    return {"503": {**answer, "headers": {"Retry-After": retry}}}


def client_form(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    """A form body of a client-authenticated endpoint; client credentials may ride in it."""
    schema = {
        "type": "object",
        "required": required,
        "properties": {**properties, **_CLIENT_FIELDS},
        "additionalProperties": False,
    }
    return {"required": True, "content": {FORM: {"schema": schema}}}


def client_endpoint(
    summary: str,
    body: dict[str, Any],
    ok: dict[str, Any],
    *statuses: int,
    ok_status: int = 200,
) -> dict[str, Any]:
    """POST from a client that authenticates as at /token (RFC 6749 section 2.3).

    Every one of them may refuse with 400 and 401 (RFC 6749 section 5.2) and
    answer 503 when the database is out of reach; ``statuses`` adds the rest.
    """
    return {
        "post": {
            "summary": summary,
            "security": CLIENT_AUTH,
            "requestBody": body,
            "responses": {
                str(ok_status): ok,
                **errors("OAuthError", 400, 401, *statuses),
                **unavailable(),
            },
        }
    }
