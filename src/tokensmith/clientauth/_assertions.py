"""What private_key_jwt and client_secret_jwt share: a JWT that proves the client.

RFC 7521 section 4.2 puts the assertion in the form (``client_assertion_type``
and ``client_assertion``); RFC 7523 sections 2.2 and 3 and OpenID Connect
Core section 9 say what it must contain. ``JwtClientAssertion`` is a template:
the two methods differ only in which ``alg`` they accept and which key
verifies the signature (``verification_key``); every claim check and the
replay record live here once.

Audience: OIDC Core lets ``aud`` be the token endpoint, RFC 7523bis prefers
the issuer, and a client may name the endpoint it is calling. Any endpoint of
this server where a client authenticates is accepted: they are one
authorization server, and the single-use ``jti`` stops an assertion from being
spent twice, at one endpoint or across them.
"""

from __future__ import annotations

import time
import warnings
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar, Final, TypeGuard

import orjson
from joserfc import jws, jwt
from joserfc.errors import JoseError, SecurityWarning
from joserfc.jwk import Key
from starlette.datastructures import Headers

from tokensmith._types import Claims, FormData
from tokensmith.clientauth.base import ClientCredentials
from tokensmith.errors import InvalidClient, printable
from tokensmith.grants._steps import use_jti_once
from tokensmith.models.client import Client
from tokensmith.stores.protocols import GrantStore
from tokensmith.trust import LEEWAY_SECONDS

if TYPE_CHECKING:
    from tokensmith.settings import Settings

CLIENT_ASSERTION_TYPE: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
"""RFC 7523 section 2.2: the ``client_assertion_type`` of a JWT client assertion."""

CLIENT_AUTHENTICATION_PATHS: Final = (
    "/token",
    "/introspect",
    "/revoke",
    "/par",
    "/device_authorization",
    "/backchannel",
)
"""The endpoints (see ``app.py``) that authenticate clients, so may be an assertion's aud."""


class JwtClientAssertion(ABC):
    """A client authentication method whose credential is a signed JWT (RFC 7523 2.2)."""

    method: ClassVar[str]
    signing_algorithms: ClassVar[tuple[str, ...]]
    form_fields: ClassVar[frozenset[str]] = frozenset(
        {"client_id", "client_assertion", "client_assertion_type"}
    )
    header_fields: ClassVar[frozenset[str]] = frozenset()
    # Not reusable_verification: an assertion expires, and its jti may be used once.

    def __init__(self, settings: Settings, grants: GrantStore):
        issuer = settings.issuer_url
        self._audiences = frozenset(
            {issuer, *(issuer + path for path in CLIENT_AUTHENTICATION_PATHS)}
        )
        self._max_lifetime = settings.client_assertion_max_lifetime
        self._grants = grants

    @abstractmethod
    def claims_algorithm(self, alg: object) -> bool:
        """Whether an assertion with this header ``alg`` is meant for this method."""

    @abstractmethod
    async def verification_key(self, client: Client, header: dict[str, Any], alg: str) -> Key:
        """The key that must have signed the client's assertion; InvalidClient if none."""

    def extract(self, headers: Headers, form: FormData) -> ClientCredentials | None:
        if form.get("client_assertion_type") != CLIENT_ASSERTION_TYPE:
            return None  # another assertion type is another authenticator's business
        assertion = form.get("client_assertion")
        if not assertion:
            raise InvalidClient("client_assertion is required with this client_assertion_type")
        header, claims = unverified_parts(assertion)
        if not self.claims_algorithm(header.get("alg")):
            return None
        # RFC 7521 section 4.2: client_id is OPTIONAL; the assertion names the client.
        client_id = form.get("client_id") or claims.get("sub")
        if not isinstance(client_id, str) or not client_id:
            raise InvalidClient("client_assertion has no sub")
        return ClientCredentials(self.method, client_id, assertion=assertion)

    async def verify(self, credentials: ClientCredentials, client: Client) -> None:
        if credentials.assertion is None:
            raise InvalidClient("client_assertion is required")
        header, _ = unverified_parts(credentials.assertion)
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.allowed_algorithms(client):
            shown = printable(alg) if isinstance(alg, str) else "missing"
            raise InvalidClient(f"client_assertion alg {shown} is not allowed for this client")
        key = await self.verification_key(client, header, alg)
        claims = verified_claims(credentials.assertion, key, alg)
        now = int(time.time())
        check_assertion_claims(claims, client.client_id, self._audiences, self._max_lifetime, now)
        # OIDC Core section 9, jti: "These tokens MUST only be used once" (RFC 7523
        # section 3, item 7). Recorded last, once everything else held, for as
        # long as the assertion could still be accepted, in the shared grant store
        # so that a replay to another server process is seen too.
        expires_at = int(claims["exp"]) + LEEWAY_SECONDS + 1
        if not await use_jti_once(self._grants, client.client_id, claims["jti"], expires_at):
            raise InvalidClient("client_assertion was already used (jti)")

    def allowed_algorithms(self, client: Client) -> tuple[str, ...]:
        """This method's algorithms, narrowed to the client's registered one if it has one."""
        registered = client.token_endpoint_auth_signing_alg
        if registered is None:
            return self.signing_algorithms
        return (registered,) if registered in self.signing_algorithms else ()


def unverified_parts(assertion: str) -> tuple[dict[str, Any], Claims]:
    """Header and claims before the signature check: only to pick the client and its key."""
    try:
        compact = jws.extract_compact(assertion.encode("ascii"))
        claims = orjson.loads(compact.payload)
    except (JoseError, ValueError, TypeError):
        raise InvalidClient("client_assertion is not a JWT") from None
    if not isinstance(claims, dict):
        raise InvalidClient("client_assertion payload is not a claim set")
    return dict(compact.headers()), claims


def verified_claims(assertion: str, key: Key, alg: str) -> Claims:
    """The claims, once ``key`` verifies the signature under exactly ``alg``."""
    try:
        with warnings.catch_warnings():
            if alg == "EdDSA":
                # joserfc flags the polymorphic "EdDSA" name (RFC 9864 prefers
                # "Ed25519"); the key is a registered OKP key, so it is safe here.
                warnings.simplefilter("ignore", SecurityWarning)
            return jwt.decode(assertion, key, algorithms=[alg]).claims
    except (JoseError, ValueError, TypeError):
        raise InvalidClient("client_assertion signature does not verify") from None


def check_assertion_claims(
    claims: Claims, client_id: str, audiences: frozenset[str], max_lifetime: int, now: int
) -> None:
    """RFC 7523 section 3 for client authentication; raises InvalidClient naming the flaw."""
    # Item 1, and OIDC Core 9: iss "MUST contain the client_id of the OAuth Client."
    if claims.get("iss") != client_id:
        raise InvalidClient("client_assertion iss must be the client_id")
    # Item 2.B: "For client authentication, the subject MUST be the client_id".
    if claims.get("sub") != client_id:
        raise InvalidClient("client_assertion sub must be the client_id")
    # Item 3: "The authorization server MUST reject any JWT that does not
    # contain its own identity as the intended audience."
    if audiences.isdisjoint(_audiences(claims)):
        raise InvalidClient("client_assertion aud does not name this server")
    # Item 4: "The JWT MUST contain an "exp" (expiration time) claim" and the
    # server "MUST reject any JWT with an expiration time that has passed".
    exp = claims.get("exp")
    if not _is_time(exp):
        raise InvalidClient("client_assertion has no valid exp")
    if exp + LEEWAY_SECONDS <= now:
        raise InvalidClient("client_assertion has expired")
    # Item 4: it "MAY reject JWTs with an "exp" claim value that is unreasonably
    # far in the future" (it also bounds how long the jti must be remembered).
    iat = claims.get("iat", now)
    if not _is_time(iat) or iat > now + LEEWAY_SECONDS:
        raise InvalidClient("client_assertion iat is not a time in the past")
    if exp - min(now, iat) > max_lifetime + LEEWAY_SECONDS:
        raise InvalidClient(f"client_assertion lives longer than {max_lifetime} seconds")
    # Item 5: nbf "identifies the time before which the token MUST NOT be accepted".
    nbf = claims.get("nbf", now)
    if not _is_time(nbf) or nbf > now + LEEWAY_SECONDS:
        raise InvalidClient("client_assertion is not valid yet (nbf)")
    # OIDC Core 9: jti is REQUIRED; without it a replay could not be seen.
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:
        raise InvalidClient("client_assertion has no jti")


def _audiences(claims: Claims) -> list[str]:
    """``aud`` as a list: RFC 7519 section 4.1.3 allows one string or an array."""
    aud = claims.get("aud")
    if isinstance(aud, str):
        return [aud]
    return [value for value in aud if isinstance(value, str)] if isinstance(aud, list) else []


def _is_time(value: object) -> TypeGuard[int | float]:
    """A JSON NumericDate (RFC 7519 section 2): a number, never a boolean."""
    return isinstance(value, int | float) and not isinstance(value, bool)
