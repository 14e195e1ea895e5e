"""Checking one DPoP proof (RFC 9449 section 4.3), wherever it arrives.

A proof is a JWT signed by the client's key with the public half in its
header. It says which request it was made for (``htm``, ``htu``), when
(``iat``), and, at a resource, which access token it goes with (``ath``).
Each ``jti`` is recorded in the grant store, keyed by the proof's key, for as
long as the proof would be accepted: the insert is atomic in SQL and Redis,
so a replay is refused whichever process sees it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, Final

import orjson
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry
from starlette.datastructures import Headers

from tokensmith.dpop.errors import InvalidDpopProof, UseDpopNonce
from tokensmith.dpop.nonce import DpopNonces
from tokensmith.dpop.uris import same_target
from tokensmith.grants._steps import use_jti_once
from tokensmith.stores.protocols import GrantStore

PROOF_TYPE: Final = "dpop+jwt"
MAX_PROOF_BYTES: Final = 8 * 1024
MAX_JTI_LENGTH: Final = 256
FUTURE_SKEW_SECONDS: Final = 60
"""How far ahead of our clock a proof's ``iat`` may be (clocks differ a little)."""
MIN_RSA_BITS: Final = 2048
# RFC 7517/7518: the members that only a private (or symmetric) key has.
PRIVATE_KEY_MEMBERS: Final = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
KEY_TYPES: Final = frozenset({"EC", "RSA", "OKP"})


class _ProofRegistry(jws.JWSRegistry):
    """joserfc's JWS rules with room for an RSA public key in the header (its default is 512)."""

    max_header_length = 4096
    max_payload_length = 4096
    max_signature_length = 2048


@dataclass(slots=True, frozen=True)
class DpopProof:
    """A proof that passed every check; ``jkt`` is its key's RFC 7638 thumbprint."""

    jkt: str
    jti: str
    issued_at: int


def access_token_hash(access_token: str) -> str:
    """RFC 9449 section 4.2 ``ath``: base64url SHA-256 of the ASCII access token."""
    digest = hashlib.sha256(access_token.encode()).digest()  # ASCII, for a well-formed token
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


class DpopProofValidator:
    def __init__(
        self,
        grants: GrantStore,
        algorithms: Collection[str],
        lifetime: int,
        nonces: DpopNonces,
        require_nonce: bool = False,
        clock: Callable[[], float] = time.time,
    ):
        self.algorithms = list(algorithms)
        self._registry = _ProofRegistry(algorithms=self.algorithms)
        self.nonces = nonces
        self.require_nonce = require_nonce
        self._grants = grants
        self._lifetime = lifetime
        self._clock = clock

    def response_headers(self) -> dict[str, str]:
        """A fresh ``DPoP-Nonce`` for the client's next proof, when nonces are in use."""
        return {"DPoP-Nonce": self.nonces.current()} if self.require_nonce else {}

    async def validate(
        self, headers: Headers, method: str, url: str, *, access_token: str | None = None
    ) -> DpopProof | None:
        """The request's proof, checked; None when it has no ``DPoP`` header.

        ``url`` is the endpoint's public URL (issuer + path), never one built
        from the Host header, which the client controls.
        """
        if "dpop" not in headers:  # the common case, without decoding every header
            return None
        values = headers.getlist("dpop")
        if len(values) > 1:
            raise InvalidDpopProof("send exactly one DPoP header")
        return await self.check(values[0], method, url, access_token=access_token)

    async def check(
        self, value: str, method: str, url: str, *, access_token: str | None = None
    ) -> DpopProof:
        claims, jkt = self._verified(value)
        if claims.get("htm") != method:
            raise InvalidDpopProof("htm does not match the HTTP method")
        htu = claims.get("htu")
        if not isinstance(htu, str) or not same_target(htu, url):
            raise InvalidDpopProof("htu does not match the URI of this endpoint")
        issued_at = self._check_issued_at(claims.get("iat"))
        jti = claims.get("jti")
        if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_LENGTH:
            raise InvalidDpopProof("jti must be a string of 1 to 256 characters")
        if access_token is not None:
            ath = claims.get("ath")
            if not isinstance(ath, str):
                raise InvalidDpopProof("ath is required with an access token")
            if not hmac.compare_digest(ath.encode(), access_token_hash(access_token).encode()):
                raise InvalidDpopProof("ath does not match the access token")
        if self.require_nonce:
            self._check_nonce(claims.get("nonce"))
        # Last, so a proof refused for any other reason leaves no record behind.
        expires_at = issued_at + self._lifetime + 1
        if not await use_jti_once(self._grants, f"dpop:{jkt}", jti, expires_at):
            raise InvalidDpopProof("the DPoP proof was already used")
        return DpopProof(jkt=jkt, jti=jti, issued_at=issued_at)

    def _verified(self, value: str) -> tuple[dict[str, Any], str]:
        """Claims and key thumbprint of a proof whose signature checks out."""
        if len(value) > MAX_PROOF_BYTES:
            raise InvalidDpopProof("the DPoP proof is too large")
        try:
            compact = jws.extract_compact(value.encode("ascii"), registry=self._registry)
        except (JoseError, ValueError, TypeError):
            raise InvalidDpopProof("the DPoP proof is not a compact JWS") from None
        header = compact.protected
        if header.get("typ") != PROOF_TYPE:
            raise InvalidDpopProof("the DPoP proof's typ must be dpop+jwt")
        alg = header.get("alg")
        if alg not in self.algorithms:
            raise InvalidDpopProof(f"alg must be one of {' '.join(self.algorithms)}")
        public_jwk = header.get("jwk")
        kty = public_jwk.get("kty") if isinstance(public_jwk, dict) else None
        if not isinstance(public_jwk, dict) or not isinstance(kty, str) or kty not in KEY_TYPES:
            raise InvalidDpopProof("the jwk header must be an asymmetric public key")
        if PRIVATE_KEY_MEMBERS & public_jwk.keys():
            raise InvalidDpopProof("the jwk header must not contain a private key")
        if kty == "RSA" and _rsa_bits(public_jwk) < MIN_RSA_BITS:
            raise InvalidDpopProof("the RSA key is shorter than 2048 bits")
        try:
            key = JWKRegistry.import_key(public_jwk)
            jws.deserialize_compact(value, key, registry=self._registry)
        except (JoseError, ValueError, TypeError, KeyError):
            raise InvalidDpopProof("the DPoP proof's signature does not verify") from None
        try:
            claims = orjson.loads(compact.payload)
        except orjson.JSONDecodeError:
            claims = None
        if not isinstance(claims, dict):
            raise InvalidDpopProof("the DPoP proof's payload is not a JSON object")
        return claims, key.thumbprint()

    def _check_issued_at(self, iat: object) -> int:
        if not isinstance(iat, int | float) or isinstance(iat, bool):
            raise InvalidDpopProof("iat must be a number")
        now = self._clock()
        if iat > now + FUTURE_SKEW_SECONDS:
            raise InvalidDpopProof("the DPoP proof was issued in the future")
        if iat < now - self._lifetime:
            raise InvalidDpopProof("the DPoP proof is too old")
        return int(iat)

    def _check_nonce(self, nonce: object) -> None:
        if not isinstance(nonce, str) or not self.nonces.is_valid(nonce):
            # RFC 9449 section 8: the error carries the nonce to use.
            raise UseDpopNonce(
                "the DPoP proof must carry the nonce in the DPoP-Nonce header",
                headers={"DPoP-Nonce": self.nonces.current()},
            )


def _rsa_bits(public_jwk: dict[str, Any]) -> int:
    """The modulus size, read before import (joserfc only warns about short keys)."""
    modulus = public_jwk.get("n")
    if not isinstance(modulus, str):
        return 0
    try:
        raw = base64.urlsafe_b64decode(modulus + "=" * (-len(modulus) % 4))
    except ValueError:
        return 0
    return len(raw.lstrip(b"\0")) * 8
