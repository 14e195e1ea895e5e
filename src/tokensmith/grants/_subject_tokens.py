"""The tokens a token exchange accepts (RFC 8693 section 3), read into one shape.

Each reader checks the token is live and this server's (or a trusted
issuer's) and says whom it names. Who may present what:

- ``access_token``: any client, JWT or opaque. It is a bearer token, and the
  typical exchanger is the resource server it was sent to.
- ``refresh_token``: only the client it was issued to, live and unused. RFC
  6749 section 6 binds a refresh token to its client; from anyone else it
  is a stolen credential.
- ``id_token``: only a client its ``aud`` names (OIDC Core 2: it was issued
  to that Relying Party), signed by our keys, ``iss`` us, unexpired.
- ``jwt``: signed by a trusted issuer for this server (``trust.py``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from joserfc import jwt
from joserfc.errors import JoseError

from tokensmith._types import Claims, JSONObject
from tokensmith.dpop.resource import confirmation_key
from tokensmith.dpop.token_binding import bound_key
from tokensmith.errors import InvalidRequest, InvalidToken, printable
from tokensmith.keys.manager import KeyManager
from tokensmith.models.client import Client
from tokensmith.models.grant import GrantKind, handle_key
from tokensmith.stores.protocols import GrantStore
from tokensmith.tokens.creation import ACCESS_TOKEN_JWT_TYPE
from tokensmith.tokens.formats.opaque import OpaqueAccessTokenFormat
from tokensmith.tokens.validation import AccessTokenValidator, audiences_of, looks_like_jwt
from tokensmith.trust import TrustedIssuer, TrustedIssuers, UntrustedToken

TOKEN_TYPE_PREFIX = "urn:ietf:params:oauth:token-type:"
TOKEN_TYPES = frozenset({"access_token", "refresh_token", "id_token", "jwt"})
MAX_ACTORS = 10
"""The longest chain of nested ``act`` claims accepted in a presented token."""


class _Unusable(ValueError):
    """The presented token cannot be used; the message says why."""


@dataclass(slots=True, frozen=True)
class PresentedToken:
    """What a subject or actor token says, whatever its type."""

    subject: str
    issuer: str
    scopes: tuple[str, ...] | None = None
    """The token's scope; None when it carries none of ours (id_token, jwt)."""
    act: Claims | None = None
    may_act: Claims | None = None
    auth_time: int | None = None
    family: str | None = None
    trusted: TrustedIssuer | None = None
    """The trusted issuer that vouches for the subject; None for our own tokens."""
    bound_to: str | None = None
    """The DPoP key thumbprint the token is bound to, if it is sender-constrained."""
    kind: str = ""
    """Its short token type name (``access_token``, ``refresh_token``, ``id_token``, ``jwt``)."""
    client_id: str | None = None
    """The client it was issued to (``client_id``, else ``azp``), when it says."""
    audience: tuple[str, ...] = ()
    """Its ``aud``; for a refresh token, the resources it may be used for."""

    @property
    def may_be_unknown(self) -> bool:
        """Whether the subject may be none of our users: always for our own tokens
        (we vouched for it when we issued them), else as the trusted issuer allows.
        """
        return self.trusted is None or self.trusted.allow_unknown_subjects

    def hook_context(self) -> JSONObject:
        """What a custom-claims hook learns of this token (``context.grant.subject_token``).

        Only what was validated, never the token string: the hook context goes
        to webhooks and scripts, and a live token there could be replayed.
        """
        return {
            "type": self.kind,
            "subject": self.subject,
            "issuer": self.issuer,
            "client_id": self.client_id,
            "scopes": None if self.scopes is None else list(self.scopes),
            "audience": list(self.audience),
            "act": self.act,
        }

    def as_actor(self) -> Claims:
        """This token's subject as an ``act`` entry (RFC 8693 section 4.1)."""
        entry: Claims = {"sub": self.subject}
        if self.trusted is not None:
            entry["iss"] = self.issuer
        return entry


def token_type_name(value: str | None, parameter: str) -> str:
    """The short name of an RFC 8693 token type URI; invalid_request if absent or unknown."""
    if value is None:
        raise InvalidRequest(f"{parameter} is required")
    name = value.removeprefix(TOKEN_TYPE_PREFIX)
    if not value.startswith(TOKEN_TYPE_PREFIX) or name not in TOKEN_TYPES:
        raise InvalidRequest(f"{parameter} {printable(value)} is not supported")
    return name


ISSUABLE: dict[str, str | None] = {
    f"{TOKEN_TYPE_PREFIX}access_token": None,
    f"{TOKEN_TYPE_PREFIX}jwt": "jwt",
}
"""Token types an exchange can issue, and the access token format each requires."""


def issued_token_type(requested: str | None) -> str:
    """The type to issue: access_token unless the client asked for a jwt."""
    if requested is None:
        return f"{TOKEN_TYPE_PREFIX}access_token"
    if requested not in ISSUABLE:
        raise InvalidRequest(f"cannot issue requested_token_type {printable(requested)}")
    return requested


def check_may_act(subject: PresentedToken, actor: PresentedToken) -> None:
    # RFC 8693 section 4.4: may_act "makes a statement that one party is
    # authorized to become the actor and act on behalf of another party".
    may_act = subject.may_act
    if may_act is None:
        return
    if may_act.get("sub") != actor.subject or may_act.get("iss", actor.issuer) != actor.issuer:
        raise InvalidRequest("the actor is not the party the subject_token's may_act names")


def act_claim(subject: PresentedToken, actor: PresentedToken | None) -> Claims:
    # RFC 8693 section 4.1: "The outermost act claim represents the current actor while
    # nested act claims represent prior actors."
    if actor is None:
        # Impersonation keeps the delegation the subject token records: an
        # exchange must not launder a delegated token into a plain one.
        return {"act": subject.act} if subject.act else {}
    current = actor.as_actor()
    if subject.act:
        current["act"] = subject.act
    return {"act": current}


class PresentedTokenReader:
    def __init__(
        self,
        issuer: str,
        keys: KeyManager,
        grants: GrantStore,
        opaque_tokens: OpaqueAccessTokenFormat,
        trusted: TrustedIssuers,
    ):
        self._issuer = issuer
        self._keys = keys
        self._grants = grants
        self._access_tokens = AccessTokenValidator(issuer, keys, opaque_tokens)
        self._trusted = trusted

    async def read(
        self, value: str, kind: str, client: Client, parameter: str, dpop_jkt: str | None
    ) -> PresentedToken:
        """What the token says; invalid_request naming ``parameter`` if it cannot be used.

        ``dpop_jkt`` is the key of the request's DPoP proof: a sender-constrained
        token is only exchanged by the holder of its key, or a stolen bound token
        could be swapped for an unbound one (RFC 9449 section 7).
        """
        try:
            presented = await self._read(value, kind, client)
            _check_holder(presented.bound_to, dpop_jkt)
        except (_Unusable, UntrustedToken) as reason:
            # RFC 8693 section 2.2.2: if "either the subject_token or actor_token
            # are invalid for any reason, or are unacceptable based on policy",
            # "The value of the error parameter MUST be the invalid_request error code."
            raise InvalidRequest(f"{parameter}: {reason}") from None
        return replace(presented, kind=kind)

    async def _read(self, value: str, kind: str, client: Client) -> PresentedToken:
        if kind == "access_token":
            return await self._access_token(value)
        if kind == "refresh_token":
            return await self._refresh_token(value, client)
        if kind == "id_token":
            return self._id_token(value, client)
        trusted, claims = self._trusted.verify(value)
        return _presented(claims, trusted.issuer, trusted=trusted)

    async def _access_token(self, value: str) -> PresentedToken:
        if looks_like_jwt(value):
            try:
                claims = self._access_tokens.validate_jwt(value)
            except InvalidToken as refused:
                raise _Unusable(refused.description or "not a live access token") from None
            return _presented(
                claims, self._issuer, scopes=_scopes(claims), bound_to=confirmation_key(claims)
            )
        # Looked up here rather than through the validator to learn its family:
        # the new token joins it, so revoking the family revokes both.
        record = await self._grants.find(handle_key(value), GrantKind.ACCESS_TOKEN)
        if record is None or not record.is_live(int(time.time())):
            raise _Unusable("not a live access token of this server")
        claims = record.data["claims"]
        return _presented(
            claims,
            self._issuer,
            scopes=_scopes(claims),
            family=record.family_id,
            bound_to=confirmation_key(claims),
        )

    async def _refresh_token(self, value: str, client: Client) -> PresentedToken:
        record = await self._grants.find(handle_key(value), GrantKind.REFRESH_TOKEN)
        # RFC 6749 section 6: "ensure that the refresh token was issued to the
        # authenticated client".
        if record is None or record.client_id != client.client_id or record.subject_id is None:
            raise _Unusable("not a refresh token issued to this client")
        if record.consumed_at is not None or not record.is_live(int(time.time())):
            raise _Unusable("expired, already used or revoked")
        return PresentedToken(
            subject=record.subject_id,
            issuer=self._issuer,
            scopes=tuple(record.data["scopes"]),
            auth_time=record.data.get("auth_time"),
            family=record.family_id,
            bound_to=bound_key(record),
            client_id=record.client_id,
            audience=tuple(record.data.get("resources") or ()),
        )

    def _id_token(self, value: str, client: Client) -> PresentedToken:
        keys = self._keys
        try:
            decoded = jwt.decode(value, keys.verification_keys, algorithms=keys.algorithms)
        except (JoseError, ValueError, TypeError):
            raise _Unusable("not an id_token of this server") from None
        claims = decoded.claims
        if decoded.header.get("typ") == ACCESS_TOKEN_JWT_TYPE or claims.get("iss") != self._issuer:
            raise _Unusable("not an id_token of this server")
        exp = claims.get("exp")
        if not isinstance(exp, int) or exp <= int(time.time()):
            raise _Unusable("expired")
        if client.client_id not in audiences_of(claims):
            raise _Unusable("issued to another client")
        # OIDC Core 2: azp names the party it was issued to, else its (one) audience.
        return _presented(claims, self._issuer, client_id=client.client_id)


def _presented(
    claims: Claims,
    issuer: str,
    *,
    scopes: tuple[str, ...] | None = None,
    family: str | None = None,
    trusted: TrustedIssuer | None = None,
    bound_to: str | None = None,
    client_id: str | None = None,
) -> PresentedToken:
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise _Unusable("no sub")
    may_act = claims.get("may_act")
    auth_time = claims.get("auth_time")
    return PresentedToken(
        subject=subject,
        issuer=issuer,
        scopes=scopes,
        act=actor_chain(claims.get("act")),
        may_act=may_act if isinstance(may_act, dict) else None,
        auth_time=auth_time if isinstance(auth_time, int) else None,
        family=family,
        trusted=trusted,
        bound_to=bound_to,
        client_id=_issued_to(claims) or client_id,
        audience=tuple(audiences_of(claims)),
    )


def _issued_to(claims: Claims) -> str | None:
    """The client a token names as its holder: ``client_id`` (RFC 9068), else ``azp``."""
    for name in ("client_id", "azp"):
        value = claims.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def _check_holder(bound_to: str | None, dpop_jkt: str | None) -> None:
    if bound_to is not None and bound_to != dpop_jkt:
        raise _Unusable("the token is DPoP-bound; send a DPoP proof signed by its key")


def actor_chain(value: object, depth: int = 0) -> Claims | None:
    """An ``act`` claim (RFC 8693 section 4.1) reduced to sub, iss and the nested act."""
    if value is None:
        return None
    if depth >= MAX_ACTORS:
        raise _Unusable("too long a chain of actors (act)")
    if not isinstance(value, dict) or not isinstance(value.get("sub"), str):
        raise _Unusable("malformed act claim")
    entry: Claims = {"sub": value["sub"]}
    if isinstance(value.get("iss"), str):
        entry["iss"] = value["iss"]
    prior = actor_chain(value.get("act"), depth + 1)
    if prior is not None:
        entry["act"] = prior
    return entry


def _scopes(claims: Claims) -> tuple[str, ...]:
    scope = claims.get("scope")
    return tuple(scope.split()) if isinstance(scope, str) else ()
