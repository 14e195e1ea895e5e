"""DPoP (RFC 9449) end to end: a real server, real EC key pairs, proofs made with PyJWT."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid

import httpx2
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from tests.e2e.conftest import RunningServer
from tests.oidc import ALICE_PASSWORD

pytestmark = pytest.mark.e2e

AUDIENCE = "https://api.example.test"

CONFIG = f"""
password_grant_enabled = true

[[clients]]
client_id = "mobile-app"
token_endpoint_auth_method = "none"
grant_types = ["password", "refresh_token"]
scopes = ["openid", "profile", "offline_access"]

[[clients]]
client_id = "orders-service"
client_secret = "s3cret-from-a-vault"
grant_types = ["client_credentials"]
scopes = ["api:read"]
dpop_bound_access_tokens = true

[[api_resources]]
audience = "{AUDIENCE}"
scopes = ["api:read"]
access_token_format = "jwt"

[[users]]
username = "alice"
password = "{ALICE_PASSWORD}"
claims = {{ given_name = "Alice" }}
"""


class Holder:
    """A client's DPoP key pair, which signs proofs the way RFC 9449 section 4.2 says."""

    def __init__(self) -> None:
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.jwk = ECAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)

    @property
    def thumbprint(self) -> str:
        """RFC 7638, computed here rather than by the server's library."""
        members = {name: self.jwk[name] for name in ("crv", "kty", "x", "y")}
        canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
        return b64(hashlib.sha256(canonical).digest())

    def proof(self, method: str, url: str, access_token: str | None = None) -> str:
        claims = {"jti": str(uuid.uuid4()), "htm": method, "htu": url, "iat": int(time.time())}
        if access_token is not None:
            claims["ath"] = b64(hashlib.sha256(access_token.encode()).digest())
        headers = {"typ": "dpop+jwt", "jwk": self.jwk}
        return jwt.encode(claims, self.private_key, algorithm="ES256", headers=headers)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def test_dpop_end_to_end(server_factory):
    """One server for both flows: starting a server is the slow part of an e2e test."""
    server = server_factory(CONFIG)
    user_token_at_userinfo_and_refresh(server)
    client_credentials_token_shows_its_key_in_introspection(server)


def user_token_at_userinfo_and_refresh(server: RunningServer) -> None:
    token_url, userinfo_url = f"{server.base_url}/token", f"{server.base_url}/userinfo"
    holder, thief = Holder(), Holder()
    with httpx2.Client(timeout=10) as http:
        form = {
            "grant_type": "password",
            "client_id": "mobile-app",
            "username": "alice",
            "password": ALICE_PASSWORD,
            "scope": "openid profile offline_access",
        }
        issued = http.post(token_url, data=form, headers={"DPoP": holder.proof("POST", token_url)})
        assert issued.status_code == 200, issued.text
        body = issued.json()
        assert body["token_type"] == "DPoP"
        token = body["access_token"]

        def userinfo(key: Holder, scheme: str = "DPoP", proof: str | None = None):
            proof = proof or key.proof("GET", userinfo_url, token)
            headers = {"Authorization": f"{scheme} {token}", "DPoP": proof}
            return http.get(userinfo_url, headers=headers)

        good_proof = holder.proof("GET", userinfo_url, token)
        answer = userinfo(holder, proof=good_proof)
        assert answer.status_code == 200, answer.text
        assert answer.json()["given_name"] == "Alice"

        # A proof from another key, a replayed proof, and the token as a bearer token.
        stolen = userinfo(thief)
        assert stolen.status_code == 401
        assert stolen.json()["error"] == "invalid_token"
        assert stolen.headers["www-authenticate"].startswith("DPoP ")
        replayed = userinfo(holder, proof=good_proof)
        assert replayed.status_code == 401
        assert replayed.json()["error"] == "invalid_dpop_proof"
        as_bearer = http.get(userinfo_url, headers={"Authorization": f"Bearer {token}"})
        assert as_bearer.status_code == 401

        # The public client's refresh token only works with a proof by the same key.
        refresh = {
            "grant_type": "refresh_token",
            "client_id": "mobile-app",
            "refresh_token": body["refresh_token"],
        }
        refused = http.post(
            token_url, data=refresh, headers={"DPoP": thief.proof("POST", token_url)}
        )
        assert refused.status_code == 400
        assert refused.json()["error"] == "invalid_grant"
        renewed = http.post(
            token_url, data=refresh, headers={"DPoP": holder.proof("POST", token_url)}
        )
        assert renewed.status_code == 200, renewed.text
        assert renewed.json()["token_type"] == "DPoP"


def client_credentials_token_shows_its_key_in_introspection(server: RunningServer) -> None:
    token_url = f"{server.base_url}/token"
    holder = Holder()
    auth = ("orders-service", "s3cret-from-a-vault")
    with httpx2.Client(timeout=10) as http:
        form = {"grant_type": "client_credentials", "resource": AUDIENCE}
        without = http.post(token_url, data=form, auth=auth)
        assert without.status_code == 400
        assert without.json()["error"] == "invalid_dpop_proof"
        proof = holder.proof("POST", token_url)
        issued = http.post(token_url, data=form, auth=auth, headers={"DPoP": proof})
        assert issued.status_code == 200, issued.text
        assert issued.json()["token_type"] == "DPoP"
        token = issued.json()["access_token"]
        assert jwt.decode(token, options={"verify_signature": False})["cnf"] == {
            "jkt": holder.thumbprint
        }
        replay = http.post(token_url, data=form, auth=auth, headers={"DPoP": proof})
        assert replay.status_code == 400
        assert replay.json()["error"] == "invalid_dpop_proof"

        introspected = http.post(f"{server.base_url}/introspect", data={"token": token}, auth=auth)
        answer = introspected.json()
        assert answer["active"] is True
        assert answer["token_type"] == "DPoP"
        assert answer["cnf"]["jkt"] == holder.thumbprint
        metadata = http.get(f"{server.base_url}/.well-known/oauth-authorization-server").json()
        assert "ES256" in metadata["dpop_signing_alg_values_supported"]
