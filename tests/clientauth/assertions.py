"""Client keys, clients and a signer for the JWT client authentication tests.

Assertions are signed with PyJWT, a JOSE library other than the server's
(joserfc), so a test passes only if both read RFC 7515 the same way.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt as pyjwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from joserfc.jwk import ECKey, OKPKey, RSAKey
from starlette.testclient import TestClient

from tests.conftest import (
    BASE_CONFIG,
    REDIS_URL,
    TEST_DATABASE,
    TEST_REDIS,
    delete_redis_keys,
    fresh_postgres_database,
)
from tokensmith import Settings, create_app

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ISSUER = "http://127.0.0.1:8000"
TOKEN_URL = f"{ISSUER}/token"

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
ED_KEY = ed25519.Ed25519PrivateKey.generate()
HMAC_SECRET = secrets.token_urlsafe(48)
"""64 characters: long enough for HS512 (RFC 7518 section 3.2)."""
SHORT_HMAC_SECRET = secrets.token_urlsafe(24)
"""32 characters: enough for HS256 only."""

PRIVATE_KEY = {"RS256": RSA_KEY, "PS256": RSA_KEY, "ES256": EC_KEY, "EdDSA": ED_KEY}
KID = {"RS256": "rsa-1", "PS256": "rsa-1", "ES256": "ec-1", "EdDSA": "ed-1"}


def public_jwk(private_key: Any, kid: str) -> dict[str, Any]:
    """The public half of a cryptography key, as a JWK with ``kid``."""
    key_class = {rsa.RSAPrivateKey: RSAKey, ec.EllipticCurvePrivateKey: ECKey}
    for interface, jwk_class in key_class.items():
        if isinstance(private_key, interface):
            return {**jwk_class.import_key(private_key).as_dict(private=False), "kid": kid}
    return {**OKPKey.import_key(private_key).as_dict(private=False), "kid": kid}


CLIENT_JWKS = {
    "keys": [
        public_jwk(RSA_KEY, "rsa-1"),
        public_jwk(EC_KEY, "ec-1"),
        public_jwk(ED_KEY, "ed-1"),
    ]
}

JWT_CLIENTS: list[dict[str, Any]] = [
    {
        "client_id": "signing-app",
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks": CLIENT_JWKS,
        "grant_types": ["client_credentials"],
        "scopes": ["api:read"],
    },
    {
        "client_id": "ps256-only-app",
        "token_endpoint_auth_method": "private_key_jwt",
        "token_endpoint_auth_signing_alg": "PS256",
        "jwks": {"keys": [public_jwk(RSA_KEY, "rsa-1")]},
        "grant_types": ["client_credentials"],
        "scopes": ["api:read"],
    },
    {
        "client_id": "hmac-app",
        "token_endpoint_auth_method": "client_secret_jwt",
        "client_secret": HMAC_SECRET,
        "grant_types": ["client_credentials"],
        "scopes": ["api:read"],
    },
    {
        "client_id": "short-hmac-app",
        "token_endpoint_auth_method": "client_secret_jwt",
        "client_secret": SHORT_HMAC_SECRET,
        "grant_types": ["client_credentials"],
        "scopes": ["api:read"],
    },
]


def claims_for(client_id: str, *, audience: Any = TOKEN_URL, **changes: Any) -> dict[str, Any]:
    """OIDC Core section 9 claims, good for two minutes; ``changes`` override (None drops)."""
    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "jti": uuid.uuid4().hex,
        "iat": now,
        "exp": now + 120,
    }
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


def sign(claims: dict[str, Any], alg: str, key: Any = None, kid: str | None = None) -> str:
    """A compact JWS of ``claims`` (PyJWT); the key and kid follow from ``alg`` unless given.

    The HMAC key is the client's secret as UTF-8 bytes, as OIDC Core section 9 says.
    """
    if key is None and alg != "none":
        key = HMAC_SECRET if alg.startswith("HS") else PRIVATE_KEY[alg]
    if kid is None and alg in KID:
        kid = KID[alg]
    headers = {"kid": kid} if kid else None
    return pyjwt.encode(claims, key, algorithm=alg, headers=headers)


def assertion_form(assertion: str, **extra: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_assertion_type": CLIENT_ASSERTION_TYPE,
        "client_assertion": assertion,
        **extra,
    }


class JwksServer:
    """A loopback HTTP server publishing a JWK Set that a test may change or break."""

    def __init__(self, jwks: dict[str, Any]):
        self.jwks: dict[str, Any] = jwks
        self.status = 200
        self.body: bytes | None = None
        """Sent instead of the JWK Set when set (a broken publisher)."""
        self.requests = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests += 1
                body = owner.body if owner.body is not None else json.dumps(owner.jwks).encode()
                self.send_response(owner.status)
                self.send_header("Content-Type", "application/jwk-set+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/jwks.json"

    @contextmanager
    def running(self) -> Iterator[JwksServer]:
        thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()
            thread.join()


@contextmanager
def module_database() -> Iterator[str | None]:
    """As conftest's ``database_url``, for a fixture wider than one test."""
    if TEST_DATABASE != "postgresql":
        yield None
        return
    with fresh_postgres_database() as url:
        yield url


@contextmanager
def shared_app(data_dir: Path, **overrides: Any) -> Iterator[TestClient]:
    """One in-process app for a whole module, on the suite's database and Redis choice.

    Creating an app costs a database on PostgreSQL; tests that only send
    fresh assertions (each its own jti) can share one.
    """
    with module_database() as database_url:
        values: dict[str, Any] = {**BASE_CONFIG, "data_dir": data_dir, **overrides}
        if database_url is not None:
            values["database_url"] = database_url
        prefix = f"ts-test-{uuid.uuid4().hex[:16]}"
        if TEST_REDIS:
            values.update(redis_url=REDIS_URL, redis_key_prefix=prefix)
        app = create_app(Settings(**values))
        try:
            with TestClient(
                app, base_url="http://127.0.0.1:8000", raise_server_exceptions=False
            ) as client:
                yield client
        finally:
            if TEST_REDIS:
                delete_redis_keys(prefix)
