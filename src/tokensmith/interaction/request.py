"""Parsing and validating an authorization request (RFC 6749 4.1.1, OIDC Core 3.1.2.1).

Two kinds of failure: before the redirect_uri is trusted, the user sees an
error page (``UntrustedRedirect``); after, the error goes back to the client
(RFC 6749 section 4.1.2.1).

The same steps check a request pushed to /par (RFC 9126 section 2.1), whose
errors all go back as JSON instead, so a request is judged the same way
whichever way it arrives.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from tokensmith.errors import (
    InvalidRequest,
    RequestNotSupported,
    UnauthorizedClient,
    UnsupportedResponseType,
    printable,
)
from tokensmith.grants._steps import (
    audiences_for,
    find_requested_resources,
    narrow_scopes_to_client,
    parse_scope,
)
from tokensmith.interaction.redirect_uris import matching_redirect_uri
from tokensmith.models.client import Client
from tokensmith.scopes import OPENID
from tokensmith.stores.protocols import ClientStore, ResourceStore

# RFC 7636 section 4.2: code-challenge = 43*128unreserved
_CODE_CHALLENGE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
# OIDC Core 3.1.2.1: max_age is seconds; ten digits are over three centuries.
_MAX_AGE_DIGITS = 10
_MAX_AGE = re.compile(rf"[0-9]{{1,{_MAX_AGE_DIGITS}}}")
PROMPTS = frozenset({"none", "login", "consent", "select_account"})
RESPONSE_MODES = frozenset({"query", "form_post"})
REPEATABLE = frozenset({"resource"})


class UntrustedRedirect(Exception):
    """The request cannot be answered by redirect: show an error page instead."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(slots=True, frozen=True)
class AuthorizationRequest:
    """A validated authorization request, storable as JSON while the user logs in."""

    client_id: str
    redirect_uri: str
    redirect_uri_sent: bool
    scopes: list[str]
    resources: list[str]
    state: str | None = None
    response_mode: str = "query"
    nonce: str | None = None
    code_challenge: str | None = None
    prompt: list[str] = field(default_factory=list)
    max_age: int | None = None
    login_hint: str | None = None

    def to_data(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> AuthorizationRequest:
        return cls(**data)


@dataclass(slots=True, frozen=True)
class RedirectTarget:
    """Where and how errors and codes go back, once the redirect_uri is trusted."""

    redirect_uri: str
    response_mode: str
    state: str | None


async def find_client(params: dict[str, str], clients: ClientStore) -> Client:
    """The enabled client named by ``client_id``; UntrustedRedirect if there is none."""
    client_id = params.get("client_id")
    client = await clients.find_client_by_id(client_id) if client_id else None
    if client is None or not client.enabled:
        raise UntrustedRedirect("The application that sent you here is not known to this server.")
    return client


def redirect_target(params: dict[str, str], client: Client) -> RedirectTarget:
    """The client's exact registered redirect_uri (RFC 9700 section 2.1)."""
    sent = params.get("redirect_uri")
    if sent is None:
        # OIDC Core 3.1.2.1 makes redirect_uri REQUIRED; plain OAuth may omit
        # it when exactly one is registered (RFC 6749 section 3.1.2.3).
        if OPENID in (params.get("scope") or "").split(" ") or len(client.redirect_uris) != 1:
            raise UntrustedRedirect("The request has no redirect_uri.")
        redirect_uri = client.redirect_uris[0]
    else:
        matched = matching_redirect_uri(sent, client.redirect_uris)
        if matched is None:
            raise UntrustedRedirect("The redirect_uri is not registered for this application.")
        redirect_uri = matched
    mode = params.get("response_mode", "query")
    return RedirectTarget(
        redirect_uri, mode if mode in RESPONSE_MODES else "query", params.get("state")
    )


async def validate_authorization_request(
    params: dict[str, str],
    repeated: dict[str, tuple[str, ...]],
    client: Client,
    target: RedirectTarget,
    resources: ResourceStore,
) -> AuthorizationRequest:
    """Everything after the redirect_uri; raises OAuthError to be sent to the client."""
    # request_uri never gets here: /authorize resolves it to the pushed
    # parameters first, and /par refuses it (RFC 9126 section 2.1).
    if "request" in params:
        raise RequestNotSupported("request objects are not supported")
    if params.get("response_type") != "code":
        raise UnsupportedResponseType("only response_type=code is supported")
    if params.get("response_mode", "query") not in RESPONSE_MODES:
        raise InvalidRequest("response_mode must be query or form_post")
    if "authorization_code" not in client.grant_types:
        raise UnauthorizedClient("client may not use the authorization code flow")
    targets = await find_requested_resources(repeated.get("resource", ()), resources)
    requested = parse_scope(params.get("scope"))
    scopes = await narrow_scopes_to_client(requested, client, targets, resources, identity=True)
    granted_for = await audiences_for([s for s in scopes], targets, resources)
    return AuthorizationRequest(
        client_id=client.client_id,
        redirect_uri=target.redirect_uri,
        redirect_uri_sent="redirect_uri" in params,
        scopes=scopes,
        resources=[resource.audience for resource in granted_for],
        state=target.state,
        response_mode=target.response_mode,
        nonce=params.get("nonce"),
        code_challenge=_code_challenge(params, client),
        prompt=_prompt(params.get("prompt")),
        max_age=_max_age(params.get("max_age")),
        login_hint=params.get("login_hint"),
    )


def _code_challenge(params: dict[str, str], client: Client) -> str | None:
    challenge = params.get("code_challenge")
    method = params.get("code_challenge_method")
    if challenge is None:
        if method is not None:
            raise InvalidRequest("code_challenge_method without code_challenge")
        # RFC 9700 section 2.1.1: PKCE for every client unless it opted out;
        # public clients cannot opt out (checked when the config is loaded).
        if client.require_pkce or client.is_public:
            raise InvalidRequest("code_challenge is required (PKCE with S256)")
        return None
    # RFC 7636 section 4.3: the method defaults to "plain", which we refuse.
    if method != "S256":
        raise InvalidRequest("code_challenge_method must be S256")
    if not _CODE_CHALLENGE.match(challenge):
        raise InvalidRequest("code_challenge is malformed")
    return challenge


def _prompt(value: str | None) -> list[str]:
    if value is None:
        return []
    prompts = value.split(" ")
    unknown = [p for p in prompts if p not in PROMPTS]
    if unknown:
        raise InvalidRequest(f"unsupported prompt value {printable(unknown[0])}")
    # OIDC Core 3.1.2.1: "If this parameter contains none with any other
    # value, an error is returned."
    if "none" in prompts and len(prompts) > 1:
        raise InvalidRequest("prompt=none cannot be combined with other values")
    return prompts


def _max_age(value: str | None) -> int | None:
    if value is None:
        return None
    # ASCII digits only, and few of them: str.isdigit() takes "²", which int()
    # refuses, and int() refuses strings over 4300 digits; both were a 500.
    if not _MAX_AGE.fullmatch(value):
        raise InvalidRequest(
            f"max_age must be a non-negative integer of at most {_MAX_AGE_DIGITS} digits"
        )
    return int(value)
