"""Claims preview: the payload a token would carry, and which stage put each claim there.

Runs the real pipeline (TokenService with its Profile/Claims services and
custom-claims hook, then TokenCreationService.create_payload) for a client,
an optional user and a scope, without issuing anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tokensmith._types import Claims
from tokensmith.errors import OAuthError
from tokensmith.grants._steps import (
    audiences_for,
    find_requested_resources,
    narrow_scopes_to_client,
    parse_scope,
)
from tokensmith.models.requests import ValidatedTokenRequest
from tokensmith.tokens.claims import built_in_claims

BUILT_IN = "built-in"
CREATE_PAYLOAD = "create_payload"


class PreviewError(Exception):
    """The preview's inputs name no such client or user, or an invalid scope."""


@dataclass(slots=True, frozen=True)
class ClaimsPreview:
    payload: Claims
    sources: dict[str, str]
    dropped: dict[str, str]
    token_format: str


async def preview_access_token(
    components: dict[str, Any],
    client_id: str,
    username: str | None,
    scope: str | None,
    resources: tuple[str, ...] = (),
) -> ClaimsPreview:
    request = await _request(components, client_id, username, scope, resources)
    token = await components["token_service"].create_access_token(request)
    before = built_in_claims(token)
    extra = dict(token.claims)
    payload: Claims = await components["token_creation"].create_payload(token)
    sources = {
        name: _source(name, value, before, extra, token.claim_sources)
        for name, value in payload.items()
    }
    return ClaimsPreview(payload, sources, dict(token.dropped_claims), token.access_token_format)


def _source(
    name: str, value: Any, before: Claims, extra: Claims, claim_sources: dict[str, str]
) -> str:
    if name in before:
        return BUILT_IN if before[name] == value else f"{CREATE_PAYLOAD} (changed {BUILT_IN})"
    if name in extra and extra[name] == value:
        return claim_sources.get(name, "claims service")
    return CREATE_PAYLOAD


async def _request(
    components: dict[str, Any],
    client_id: str,
    username: str | None,
    scope: str | None,
    requested_resources: tuple[str, ...],
) -> ValidatedTokenRequest:
    client = await components["clients"].find_client_by_id(client_id)
    if client is None:
        raise PreviewError(f"no client {client_id!r}")
    user = None
    if username is not None:
        user = await components["users"].find_user_by_username(username)
        if user is None:
            raise PreviewError(f"no user {username!r}")
    store = components["resources"]
    try:
        targets = await find_requested_resources(requested_resources, store)
        scopes = await narrow_scopes_to_client(
            parse_scope(scope), client, targets, store, identity=user is not None
        )
    except OAuthError as exc:
        raise PreviewError(str(exc)) from None
    return ValidatedTokenRequest(
        grant_type="authorization_code" if user is not None else "client_credentials",
        client=client,
        scopes=tuple(scopes),
        resources=tuple(await audiences_for(scopes, targets, store)),
        user=user,
    )
