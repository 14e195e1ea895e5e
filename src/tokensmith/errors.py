"""Protocol errors, rendered as RFC 6749 section 5.2 JSON by one handler.

Hierarchy::

    OAuthError (error, status_code=400)
     ├── InvalidRequest               invalid_request
     │    └── RequestTooLarge         invalid_request, 413
     ├── InvalidClient                invalid_client, 401 + WWW-Authenticate
     ├── InvalidGrant                 invalid_grant
     ├── UnauthorizedClient           unauthorized_client
     ├── UnsupportedGrantType         unsupported_grant_type
     ├── InvalidScope                 invalid_scope
     ├── InvalidTarget                invalid_target (RFC 8707)
     ├── AccessDenied                 access_denied
     ├── UnsupportedResponseType      unsupported_response_type
     ├── LoginRequired                login_required (OIDC Core 3.1.2.6)
     ├── ConsentRequired              consent_required
     ├── RequestNotSupported          request_not_supported
     ├── RequestUriNotSupported       request_uri_not_supported
     ├── InvalidRequestUri            invalid_request_uri (RFC 9101 6.2, RFC 9126 4)
     ├── AuthorizationPending         authorization_pending (RFC 8628 3.5, CIBA 11)
     ├── SlowDown                     slow_down
     ├── ExpiredToken                 expired_token
     ├── UnknownUserId                unknown_user_id (CIBA 13)
     ├── InvalidBindingMessage        invalid_binding_message (CIBA 13)
     ├── InvalidToken                 invalid_token, 401 (RFC 6750 section 3.1)
     │    └── InsufficientScope       insufficient_scope, 403
     ├── ServerError                  server_error, 500
     └── TemporarilyUnavailable       temporarily_unavailable, 503 + Retry-After

Subclasses only set class attributes; call sites add detail with
``with_description``.
"""

from __future__ import annotations

import re
from typing import ClassVar, Self

# RFC 6749 section 5.2: "Values for the "error_description" parameter MUST NOT
# include characters outside the set %x20-21 / %x23-5B / %x5D-7E."
_DESCRIPTION_CHARS = re.compile(r"^[\x20-\x21\x23-\x5B\x5D-\x7E]*$")


def printable(value: str, limit: int = 80) -> str:
    """``value`` made safe to quote in an error_description: allowed characters only, capped."""
    # fullmatch: "$" alone would let a newline through (it matches before a final "\n").
    kept = "".join(ch if _DESCRIPTION_CHARS.fullmatch(ch) else "?" for ch in value[:limit])
    return kept + ("..." if len(value) > limit else "")


class OAuthError(Exception):
    """A protocol error that the client is meant to see."""

    error: ClassVar[str] = "invalid_request"
    status_code: ClassVar[int] = 400
    default_headers: ClassVar[dict[str, str]] = {}
    """Headers every answer of this kind carries; ``headers`` adds to them."""

    def __init__(
        self,
        description: str | None = None,
        *,
        uri: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        if description is not None and not _DESCRIPTION_CHARS.match(description):
            raise ValueError(f"error_description has characters RFC 6749 forbids: {description!r}")
        super().__init__(description or self.error)
        self.description = description
        self.uri = uri
        self.headers: dict[str, str] = {**self.default_headers, **(headers or {})}

    def with_description(self, description: str) -> Self:
        """A copy of this error that carries ``description``."""
        return type(self)(description, uri=self.uri, headers=self.headers)

    def to_dict(self) -> dict[str, str]:
        """The JSON body of RFC 6749 section 5.2."""
        body = {"error": self.error}
        if self.description:
            body["error_description"] = self.description
        if self.uri:
            body["error_uri"] = self.uri
        return body


class InvalidRequest(OAuthError):
    error = "invalid_request"


class RequestTooLarge(InvalidRequest):
    status_code = 413


class InvalidClient(OAuthError):
    error = "invalid_client"
    status_code = 401
    # RFC 6749 section 5.2: a 401 MUST carry WWW-Authenticate matching the
    # scheme the client used; Basic is the scheme we offer.
    default_headers: ClassVar[dict[str, str]] = {"WWW-Authenticate": 'Basic realm="tokensmith"'}


class InvalidGrant(OAuthError):
    error = "invalid_grant"


class UnauthorizedClient(OAuthError):
    error = "unauthorized_client"


class UnsupportedGrantType(OAuthError):
    error = "unsupported_grant_type"


class InvalidScope(OAuthError):
    error = "invalid_scope"


class InvalidTarget(OAuthError):
    error = "invalid_target"


class AccessDenied(OAuthError):
    error = "access_denied"


class UnsupportedResponseType(OAuthError):
    error = "unsupported_response_type"


class LoginRequired(OAuthError):
    error = "login_required"


class ConsentRequired(OAuthError):
    error = "consent_required"


class RequestNotSupported(OAuthError):
    error = "request_not_supported"


class RequestUriNotSupported(OAuthError):
    error = "request_uri_not_supported"


class InvalidRequestUri(OAuthError):
    error = "invalid_request_uri"


class AuthorizationPending(OAuthError):
    error = "authorization_pending"


class SlowDown(OAuthError):
    error = "slow_down"


class ExpiredToken(OAuthError):
    error = "expired_token"


class UnknownUserId(OAuthError):
    error = "unknown_user_id"


class ExpiredLoginHintToken(OAuthError):
    """CIBA Core section 13: the login_hint_token "is not valid because it has expired"."""

    error = "expired_login_hint_token"


class InvalidBindingMessage(OAuthError):
    error = "invalid_binding_message"


class InvalidToken(OAuthError):
    error = "invalid_token"
    status_code = 401


class InsufficientScope(InvalidToken):
    error = "insufficient_scope"
    status_code = 403


class ServerError(OAuthError):
    error = "server_error"
    status_code = 500


class TemporarilyUnavailable(OAuthError):
    """The database is busy or unreachable: nothing was done, the client may retry."""

    error = "temporarily_unavailable"
    status_code = 503
    # RFC 9110 section 15.6.4: a 503 "MAY send a Retry-After header field".
    default_headers: ClassVar[dict[str, str]] = {"Retry-After": "1"}


__all__ = [
    "AccessDenied",
    "AuthorizationPending",
    "ConsentRequired",
    "ExpiredToken",
    "InsufficientScope",
    "InvalidBindingMessage",
    "InvalidClient",
    "InvalidGrant",
    "InvalidRequest",
    "InvalidRequestUri",
    "InvalidScope",
    "InvalidTarget",
    "InvalidToken",
    "LoginRequired",
    "OAuthError",
    "RequestNotSupported",
    "RequestTooLarge",
    "RequestUriNotSupported",
    "ServerError",
    "SlowDown",
    "TemporarilyUnavailable",
    "UnauthorizedClient",
    "UnknownUserId",
    "UnsupportedGrantType",
    "UnsupportedResponseType",
    "printable",
]
