"""Trusted external issuers: whose signed JWTs this server accepts, and with which keys.

The JWT bearer grant (RFC 7523 section 2.1) and token exchange's ``jwt``
tokens (RFC 8693 section 3) both check a JWT here, by RFC 7523 section 3.
An issuer's keys come from its inline JWKS, and the algorithms it may sign
with follow from those keys' types: ``none`` and the HMAC algorithms are
never among them, so a public key can never be misused as an HMAC secret.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeGuard

import orjson
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet, OKPKey, RSAKey

from tokensmith._types import Claims

if TYPE_CHECKING:
    from tokensmith.settings import Settings, TrustedIssuerConfig

LEEWAY_SECONDS = 60
"""Clock skew allowed on exp, nbf and iat (RFC 7523 section 3: "some small leeway")."""

_RSA_ALGORITHMS: tuple[str, ...] = ("PS256", "PS384", "PS512", "RS256", "RS384", "RS512")
_CURVE_ALGORITHMS: dict[str, tuple[str, ...]] = {
    "P-256": ("ES256",),
    "P-384": ("ES384",),
    "P-521": ("ES512",),
    "secp256k1": ("ES256K",),
    "Ed25519": ("Ed25519",),
    "Ed448": ("Ed448",),
}


class UntrustedToken(ValueError):
    """The JWT is not one a trusted issuer validly signed for this server; says why."""


class ExpiredJwt(UntrustedToken):
    """A trusted issuer signed it for us, but its ``exp`` has passed (CIBA tells this apart)."""


@dataclass(slots=True, frozen=True)
class TrustedIssuer:
    issuer: str
    keys: KeySet
    algorithms: tuple[str, ...]
    allow_unknown_subjects: bool = False
    """Whether a ``sub`` that is none of our users may still be the subject of a token."""


def public_key_set(
    jwks: Mapping[str, Any], algorithms: Collection[str] | None = None
) -> tuple[KeySet, tuple[str, ...]]:
    """An issuer's public keys and the algorithms they verify; ValueError if unusable."""
    try:
        keys = KeySet.import_key_set(dict(jwks))  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"jwks is not a usable JWK Set ({exc})") from None
    usable: set[str] = set()
    for key in keys.keys:
        fitting: tuple[str, ...] = ()
        if isinstance(key, RSAKey):
            fitting = _RSA_ALGORITHMS
        elif isinstance(key, ECKey | OKPKey):
            fitting = _CURVE_ALGORITHMS.get(key.curve_name, ())
        if key.alg is not None:
            fitting = tuple(alg for alg in fitting if alg == key.alg)
        if not fitting:
            raise ValueError(f"jwks: a {key.key_type} key cannot verify an asymmetric signature")
        if key.is_private:
            raise ValueError("jwks must hold public keys only")
        usable.update(fitting)
    if algorithms is None:
        return keys, tuple(sorted(usable))
    unfit = sorted(set(algorithms) - usable)
    if unfit:
        raise ValueError(f"algorithms {unfit} do not fit the keys in jwks")
    return keys, tuple(algorithms)


def trusted_issuer(config: TrustedIssuerConfig) -> TrustedIssuer:
    keys, algorithms = public_key_set(config.jwks, config.algorithms)
    return TrustedIssuer(config.issuer, keys, algorithms, config.allow_unknown_subjects)


class TrustedIssuers:
    """The configured issuers, and the one check every JWT from them goes through."""

    def __init__(self, issuers: Iterable[TrustedIssuer], audiences: Collection[str]):
        self._by_issuer = {issuer.issuer: issuer for issuer in issuers}
        self._audiences = frozenset(audiences)

    @classmethod
    def from_settings(cls, settings: Settings) -> TrustedIssuers:
        """Our own identity, as the audience JWTs must name: the issuer or the token endpoint."""
        issuer = settings.issuer_url
        configured = (trusted_issuer(config) for config in settings.trusted_issuers)
        return cls(configured, (issuer, f"{issuer}/token"))

    def verify(self, value: str, now: int | None = None) -> tuple[TrustedIssuer, Claims]:
        """The issuer and claims of a JWT a trusted issuer signed for us; raises UntrustedToken."""
        now = int(time.time()) if now is None else now
        header, unverified = _unverified(value)
        iss = unverified.get("iss")
        # RFC 7523 section 3, item 1: "The JWT MUST contain an "iss" (issuer) claim".
        issuer = self._by_issuer.get(iss) if isinstance(iss, str) else None
        if issuer is None:
            raise UntrustedToken("the JWT's issuer is not a trusted issuer")
        if header.get("alg") not in issuer.algorithms:
            raise UntrustedToken("the JWT's alg is not one this issuer's keys allow")
        try:
            claims = jwt.decode(value, issuer.keys, algorithms=issuer.algorithms).claims
        except (JoseError, ValueError, TypeError):
            raise UntrustedToken(
                "the JWT's signature does not verify with the issuer's key"
            ) from None
        self._check_claims(claims, now)
        return issuer, claims

    def _check_claims(self, claims: Claims, now: int) -> None:
        # Item 2: "The JWT MUST contain a "sub" (subject) claim".
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise UntrustedToken("the JWT has no sub")
        # Item 3: "The authorization server MUST reject any JWT that does not
        # contain its own identity as the intended audience."
        if self._audiences.isdisjoint(_audiences(claims)):
            raise UntrustedToken("the JWT's aud does not name this server")
        # Item 4: "The JWT MUST contain an "exp" (expiration time) claim" and
        # the server "MUST reject any JWT with an expiration time that has passed".
        exp = claims.get("exp")
        if not _is_time(exp):
            raise UntrustedToken("the JWT has no valid exp")
        if exp + LEEWAY_SECONDS <= now:
            raise ExpiredJwt("the JWT has expired")
        # Item 5: nbf "identifies the time before which the token MUST NOT be accepted".
        if not _not_after(claims, "nbf", now + LEEWAY_SECONDS):
            raise UntrustedToken("the JWT is not valid yet (nbf)")
        if not _not_after(claims, "iat", now + LEEWAY_SECONDS):
            raise UntrustedToken("the JWT was issued in the future (iat)")


def _unverified(value: str) -> tuple[dict[str, Any], Claims]:
    """Header and claims before the signature check: only to choose the issuer's keys."""
    try:
        compact = jws.extract_compact(value.encode("ascii"))
        claims = orjson.loads(compact.payload)
    except (JoseError, ValueError, TypeError):
        raise UntrustedToken("the value is not a JWT") from None
    if not isinstance(claims, dict):
        raise UntrustedToken("the JWT's payload is not a claim set")
    return dict(compact.headers()), claims


def _audiences(claims: Claims) -> list[str]:
    """``aud`` as a list: RFC 7519 section 4.1.3 allows one string or an array."""
    aud = claims.get("aud")
    if isinstance(aud, str):
        return [aud]
    return [value for value in aud if isinstance(value, str)] if isinstance(aud, list) else []


def _not_after(claims: Claims, name: str, limit: int) -> bool:
    """Whether the time claim ``name`` is absent, or a NumericDate no later than ``limit``."""
    value = claims.get(name, limit)
    return _is_time(value) and value <= limit


def _is_time(value: object) -> TypeGuard[int | float]:
    """A JSON NumericDate (RFC 7519 section 2): a number, never a boolean."""
    return isinstance(value, int | float) and not isinstance(value, bool)
