"""Who a request says it is: the source address and the client_id it presents.

Nothing here authenticates anything. A limit per client counts the client_id
the request names (HTTP Basic, else the query or form), which is enough to
keep one client's burst from starving the others; a caller who lies about
client_id spends that client's budget, and the per-address limit still holds.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.requests import Request

from tokensmith.clientauth.client_secret_basic import ClientSecretBasic
from tokensmith.endpoints._forms import read_form
from tokensmith.errors import InvalidClient, InvalidRequest

__all__ = ["basic_client_id", "presented_client_id", "source_address"]

_BASIC = ClientSecretBasic()
_NO_FORM: dict[str, str] = {}


def source_address(request: Request) -> str:
    """The peer as the ASGI server reports it.

    X-Forwarded-For is not read here, since any caller can send it. uvicorn
    (and so ``tokensmith serve``) replaces the ASGI client with the forwarded
    address only for proxies listed in FORWARDED_ALLOW_IPS (default: the
    loopback address); list your trusted proxy there.
    """
    client = request.client
    return client.host if client is not None else "unknown"


def basic_client_id(headers: Headers) -> str | None:
    """The client_id in an HTTP Basic Authorization header, if there is a well-formed one."""
    if "authorization" not in headers:
        return None
    try:
        credentials = _BASIC.extract(headers, _NO_FORM)
    except InvalidClient:
        return None
    return credentials.client_id if credentials is not None else None


async def presented_client_id(request: Request, max_bytes: int) -> str | None:
    """client_id from HTTP Basic, else from the query (GET) or the form (POST).

    The form is read through ``read_form``, which keeps what it read in the
    request scope, so the endpoint does not parse the body a second time. A
    malformed request yields None here and its error at the endpoint.
    """
    client_id = basic_client_id(request.headers)
    if client_id is not None:
        return client_id
    if request.method in ("GET", "HEAD"):
        return request.query_params.get("client_id")
    try:
        fields = await read_form(request, max_bytes)
    except InvalidRequest:
        return None
    return next((value for name, value in fields if name == "client_id"), None)
