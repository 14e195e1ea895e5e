"""Access tokens on protected endpoints: reading them, and the error answers.

Two schemes: ``Bearer`` (RFC 6750) and ``DPoP`` (RFC 9449 section 7.1). An
error answer names the scheme the client should use, with the DPoP ``algs``
when that scheme is the one in question.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from tokensmith.dpop.errors import InvalidDpopProof, UseDpopNonce
from tokensmith.endpoints._rendering import json_response
from tokensmith.errors import InvalidRequest, InvalidToken, OAuthError

REALM = 'Bearer realm="tokensmith"'
BEARER = "bearer"
DPOP = "dpop"


@dataclass(slots=True, frozen=True)
class PresentedToken:
    token: str
    scheme: str
    """``bearer`` or ``dpop``, lower case (auth schemes are case-insensitive)."""


def token_from_header(
    request: Request, schemes: Collection[str] = (BEARER,)
) -> PresentedToken | None:
    """The token of the ``Authorization`` header in one of ``schemes``; None without one."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    if scheme not in schemes or not value.strip():
        names = " or ".join(name.capitalize() if name == BEARER else "DPoP" for name in schemes)
        raise InvalidRequest(f"the Authorization header is not a {names} token")
    return PresentedToken(value.strip(), scheme)


def bearer_from_header(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header; None without the header."""
    presented = token_from_header(request)
    return presented.token if presented is not None else None


def missing_token() -> Response:
    # RFC 6750 section 3.1: with no credentials, no error code.
    return json_response({}, 401, {"WWW-Authenticate": REALM})


def bearer_error(
    error: OAuthError,
    *,
    dpop_algorithms: Collection[str] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """RFC 6750 section 3 / RFC 9449 section 7.1: the error in WWW-Authenticate and the body.

    With ``dpop_algorithms`` the challenge is the ``DPoP`` scheme's, with its
    ``algs`` parameter; DPoP proof errors are 401s at a resource, as
    ``invalid_token`` is.
    """
    unauthorized = isinstance(error, InvalidToken | InvalidDpopProof | UseDpopNonce)
    status = error.status_code if isinstance(error, InvalidToken) else 401 if unauthorized else 400
    if dpop_algorithms is not None:
        challenge = f'DPoP algs="{" ".join(dpop_algorithms)}", error="{error.error}"'
    else:
        challenge = f'{REALM}, error="{error.error}"'
    if error.description:
        challenge += f', error_description="{error.description}"'
    return json_response(
        error.to_dict(),
        status,
        {**error.headers, **(headers or {}), "WWW-Authenticate": challenge},
    )
