"""Refusals of the admin services, each with the HTTP status the admin API answers with.

AdminError (400, invalid_request)
 +-- InvalidField (400, names the offending field)
 +-- BodyTooLarge (413, invalid_request): the body is over the size limit
 +-- NotFound (404, not_found)
 +-- Conflict (409, conflict): exists already, or is read-only (from the config file)
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import ValidationError

from tokensmith.errors import printable


class AdminError(Exception):
    """A refused change; the message is for the operator and never holds a secret."""

    error: ClassVar[str] = "invalid_request"
    status_code: ClassVar[int] = 400

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "error": self.error,
            "error_description": printable(self.message, 300),
        }
        if self.field is not None:
            body["field"] = self.field
        return body


class InvalidField(AdminError):
    pass


class BodyTooLarge(AdminError):
    status_code = 413


class NotFound(AdminError):
    error = "not_found"
    status_code = 404


class Conflict(AdminError):
    error = "conflict"
    status_code = 409


def invalid_body(exc: ValidationError) -> InvalidField:
    """The first problem pydantic found, as ``field: message``."""
    problem = exc.errors(include_url=False)[0]
    field = "".join(
        f"[{part}]" if isinstance(part, int) else f".{part}" for part in problem["loc"]
    ).lstrip(".")
    message = problem["msg"].removeprefix("Value error, ")
    return InvalidField(f"{field or 'body'}: {message}", field or None)
