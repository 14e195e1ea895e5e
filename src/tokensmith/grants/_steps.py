"""Steps shared by the grant recipes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time

from tokensmith.errors import (
    InvalidGrant,
    InvalidScope,
    InvalidTarget,
    OAuthError,
    UnauthorizedClient,
    printable,
)
from tokensmith.models.client import Client
from tokensmith.models.grant import ConsumeOutcome, GrantKind, StoredGrant, handle_key
from tokensmith.models.resource import ApiResource
from tokensmith.models.user import User
from tokensmith.scopes import IDENTITY_SCOPES
from tokensmith.stores.protocols import DuplicateGrant, GrantStore, ResourceStore, UserStore
from tokensmith.tokens.profile_service import ProfileService

# RFC 6749 section 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5B\x5D-\x7E]+$")


def check_client_may_use_grant(client: Client, grant_type: str) -> None:
    # RFC 6749 section 5.2 unauthorized_client: "The authenticated client is
    # not authorized to use this authorization grant type."
    if grant_type not in client.grant_types:
        raise UnauthorizedClient(f"client may not use grant_type {grant_type}")


def parse_scope(scope: str | None) -> list[str] | None:
    """The requested scope tokens in order, without repeats; None when absent."""
    if scope is None:
        return None
    tokens = scope.split(" ")
    if not all(_SCOPE_TOKEN.match(token) for token in tokens):
        raise InvalidScope("scope is not a space-delimited list of scope tokens")
    return list(dict.fromkeys(tokens))


async def find_requested_resources(
    requested: tuple[str, ...], resources: ResourceStore
) -> list[ApiResource]:
    """The APIs named by RFC 8707 ``resource`` values, each of which must be known."""
    selected: list[ApiResource] = []
    for audience in requested:
        # RFC 8707 section 2: the value "MUST be an absolute URI" without a fragment.
        if ":" not in audience or "#" in audience:
            raise InvalidTarget("resource must be an absolute URI without a fragment")
        resource = await resources.find_api_resource(audience)
        if resource is None:
            raise InvalidTarget(f"unknown resource {printable(audience)}")
        selected.append(resource)
    return selected


async def narrow_scopes_to_client(
    requested: list[str] | None,
    client: Client,
    targets: list[ApiResource],
    resources: ResourceStore,
    *,
    identity: bool = False,
) -> list[str]:
    """Requested scopes, all of which the client may have (and, with targets, they own).

    RFC 6749 section 3.3: without a scope parameter the server "MUST either
    process the request using a pre-defined default value or fail"; the
    default is everything the client may have. ``identity`` admits the
    OpenID Connect scopes, for grants that act for a user.
    """
    api_scopes = set(await resources.all_scopes())
    allowed = client.scopes & api_scopes
    if targets:
        allowed &= set().union(*(resource.scopes for resource in targets))
    if identity:
        allowed |= client.scopes & IDENTITY_SCOPES
    if requested is None:
        granted = sorted(allowed)
    else:
        refused = [scope for scope in requested if scope not in allowed]
        if refused:
            raise InvalidScope(f"scope not allowed for this client: {' '.join(refused)}")
        granted = requested
    if not granted:
        raise InvalidScope("no scope can be granted to this client")
    return granted


async def audiences_for(
    scopes: list[str], targets: list[ApiResource], resources: ResourceStore
) -> list[ApiResource]:
    """The requested APIs, or else every API that owns a granted scope."""
    return targets or await resources.find_api_resources_by_scope(scopes)


def narrow_to_original(requested: list[str] | None, original: list[str]) -> list[str]:
    """RFC 6749 section 6: a refresh may ask for less than was granted, never more."""
    if requested is None:
        return original
    extra = [scope for scope in requested if scope not in original]
    if extra:
        raise InvalidScope(f"scope exceeds the original grant: {' '.join(extra)}")
    return requested


# RFC 7636 section 4.1: code-verifier = 43*128unreserved
_CODE_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


def verify_pkce(code_challenge: str | None, code_verifier: str | None) -> None:
    """RFC 7636 section 4.6 (S256 only); also refuses a verifier for a code without a challenge.

    The second rule stops a PKCE downgrade (RFC 9700 section 2.1.1).
    """
    if code_challenge is None:
        if code_verifier is not None:
            raise InvalidGrant("code_verifier sent for a code issued without code_challenge")
        return
    if code_verifier is None:
        raise InvalidGrant("code_verifier is required")
    if not _CODE_VERIFIER.match(code_verifier):
        raise InvalidGrant("code_verifier is malformed")
    digest = hashlib.sha256(code_verifier.encode("ascii")).digest()
    computed = base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")
    if not hmac.compare_digest(computed, code_challenge):
        raise InvalidGrant("code_verifier does not match the code_challenge")


async def consume_once(
    grants: GrantStore, handle: str, kind: GrantKind, client: Client, what: str
) -> StoredGrant:
    """Use a code or refresh token exactly once, for the client it was issued to.

    A second use revokes the family of tokens issued from it (RFC 6749
    section 4.1.2: codes; RFC 9700 section 4.14.2: refresh tokens).
    """
    now = int(time.time())
    outcome, grant = await grants.consume(handle_key(handle), kind, now)
    if outcome is ConsumeOutcome.MISSING or grant is None:
        raise InvalidGrant(f"unknown {what}")
    if grant.client_id != client.client_id:
        raise InvalidGrant(f"{what} was issued to another client")
    if outcome is ConsumeOutcome.ALREADY_CONSUMED:
        if grant.family_id is not None:
            await grants.revoke_family(grant.family_id, now)
        raise InvalidGrant(f"{what} was already used; tokens issued from it are revoked")
    if not grant.is_live(now):
        raise InvalidGrant(f"{what} has expired or was revoked")
    return grant


async def find_active_user(
    users: UserStore, profile_service: ProfileService, subject_id: str | None
) -> User:
    """The grant's user, who must still exist and be active."""
    user = await users.find_user_by_subject(subject_id) if subject_id else None
    if user is None or not await profile_service.is_active(user):
        raise InvalidGrant("the user is no longer active")
    return user


async def resources_by_audience(
    audiences: list[str], resources: ResourceStore
) -> list[ApiResource]:
    found = [await resources.find_api_resource(audience) for audience in audiences]
    return [resource for resource in found if resource is not None]


async def find_subject_user(
    users: UserStore,
    profile_service: ProfileService,
    subject_id: str,
    *,
    allow_unknown: bool,
    refuse: type[OAuthError] = InvalidGrant,
) -> User | None:
    """The active user a presented token names; None for a subject that is no user of ours.

    Such a subject is refused (with ``refuse``) unless ``allow_unknown``.
    """
    user = await users.find_user_by_subject(subject_id)
    if user is None:
        if not allow_unknown:
            raise refuse("the subject is not a user of this server")
        return None
    if not await profile_service.is_active(user):
        raise refuse("the user is no longer active")
    return user


def narrow_to_ceiling(
    requested: list[str] | None, allowed: list[str], ceiling: tuple[str, ...] | None
) -> list[str]:
    """Requested scopes within what the client may have and what the presented token had.

    Without a scope parameter, the overlap of the two; ``ceiling`` None means
    the presented token sets no limit of its own.
    """
    limit = [scope for scope in allowed if ceiling is None or scope in ceiling]
    granted = limit if requested is None else requested
    refused = [scope for scope in granted if scope not in limit]
    if refused:
        raise InvalidScope(f"scope exceeds the presented token or the client: {' '.join(refused)}")
    if not granted:
        raise InvalidScope("no scope can be granted from the presented token")
    return granted


async def use_jti_once(grants: GrantStore, issuer: str, jti: str, expires_at: int) -> bool:
    """Record a JWT id as used; False when it already was (a replay).

    One insert keyed by the issuer and id (a primary key in SQL, SET-if-absent
    in Redis) makes check and record a single atomic step, across every
    server process.
    """
    record = StoredGrant(
        key=handle_key(f"{issuer}:{jti}"),
        kind=GrantKind.USED_JTI,
        client_id=None,
        subject_id=None,
        created_at=int(time.time()),
        expires_at=expires_at,
    )
    try:
        await grants.save(record)
    except DuplicateGrant:
        return False
    return True


async def find_audiences(audiences: tuple[str, ...], resources: ResourceStore) -> list[ApiResource]:
    """The APIs named by RFC 8693 ``audience`` values, each of which must be known."""
    found: list[ApiResource] = []
    for audience in audiences:
        resource = await resources.find_api_resource(audience)
        if resource is None:
            raise InvalidTarget(f"unknown audience {printable(audience)}")
        found.append(resource)
    return found
