"""Small builders for repeated OpenAPI fragments."""

from __future__ import annotations

from typing import Any

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def json_body(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


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
