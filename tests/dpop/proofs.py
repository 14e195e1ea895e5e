"""Building DPoP proofs the way a client does (RFC 9449 section 4.2), with joserfc."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from typing import Any

import orjson
from joserfc import jws
from joserfc.jwk import ECKey


def new_key() -> ECKey:
    return ECKey.generate_key("P-256")


def ath_of(access_token: str) -> str:
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def make_proof(
    key: Any,
    method: str,
    url: str,
    *,
    access_token: str | None = None,
    nonce: str | None = None,
    header: dict[str, Any] | None = None,
    **claims: Any,
) -> str:
    """A signed proof for ``method url``; ``header`` and ``claims`` override the defaults."""
    payload: dict[str, Any] = {
        "jti": secrets.token_urlsafe(16),
        "htm": method,
        "htu": url,
        "iat": int(time.time()),
    }
    if access_token is not None:
        payload["ath"] = ath_of(access_token)
    if nonce is not None:
        payload["nonce"] = nonce
    payload.update(claims)
    protected = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.as_dict(private=False)}
    protected.update(header or {})
    algorithms = [protected["alg"]]
    return jws.serialize_compact(protected, orjson.dumps(payload), key, algorithms=algorithms)


def unsigned_proof(header: dict[str, Any], **claims: Any) -> str:
    """A proof-shaped JWS with ``header`` and no valid signature, for what joserfc won't sign."""
    payload = {"jti": secrets.token_urlsafe(8), "htm": "POST", "iat": int(time.time()), **claims}
    return f"{_b64(orjson.dumps(header))}.{_b64(orjson.dumps(payload))}.{_b64(b'sig')}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def thumbprint(key: ECKey) -> str:
    return key.thumbprint()
