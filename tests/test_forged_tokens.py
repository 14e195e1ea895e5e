"""Forged access tokens (RFC 9700 section 2.6, RFC 8725): never accepted as ours.

An attacker who holds a real token rewrites its header: ``alg: none`` with no
signature, or ``HS256`` signed with our *public* key as the HMAC secret (the
algorithm-confusion attack). Userinfo and introspection must both refuse them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from tests.endpoints.test_introspection import OTHER_API, cc_token, introspect, user_tokens
from tests.helpers import decode_jwt_unverified
from tests.introspection_config import INTROSPECTION_CONFIG


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def with_header(token: str, **header: str) -> tuple[str, str]:
    """The token's signing input with ``header`` merged in, and the original payload part."""
    original, _ = decode_jwt_unverified(token)
    _, payload, _ = token.split(".")
    return b64(json.dumps({**original, **header}).encode()), payload


def alg_none(token: str) -> str:
    header, payload = with_header(token, alg="none")
    return f"{header}.{payload}."


def hs256_with_public_key(token: str, public_jwk: dict) -> str:
    header, payload = with_header(token, alg="HS256")
    secret = json.dumps(public_jwk).encode()
    signature = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(signature)}"


@pytest.fixture
def server(make_client):
    return make_client(**INTROSPECTION_CONFIG)


@pytest.fixture
def public_jwk(server):
    return server.get("/.well-known/jwks.json").json()["keys"][0]


def test_the_untouched_token_is_accepted(server):
    """The control: the forgeries below fail only because of the forgery."""
    token = user_tokens(server)["access_token"]
    assert server.get("/userinfo", headers={"Authorization": f"Bearer {token}"}).status_code == 200


@pytest.mark.parametrize("forge", ["none", "hs256"])
def test_forged_user_token_is_refused_at_userinfo(server, public_jwk, forge):
    token = user_tokens(server)["access_token"]
    forged = alg_none(token) if forge == "none" else hs256_with_public_key(token, public_jwk)
    response = server.get("/userinfo", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


@pytest.mark.parametrize("forge", ["none", "hs256"])
def test_forged_token_is_inactive_at_introspection(server, public_jwk, forge):
    token = cc_token(server, "api:read")  # a JWT for the API that other-api serves
    assert introspect(server, token, OTHER_API).json()["active"] is True
    forged = alg_none(token) if forge == "none" else hs256_with_public_key(token, public_jwk)
    assert introspect(server, forged, OTHER_API).json() == {"active": False}


def test_discovery_never_offers_alg_none(server):
    """No algorithm list offers `none`; only client_secret_jwt may use a shared-secret MAC.

    The server's own signatures (id_tokens, access tokens) and DPoP proofs are asymmetric: an
    HS* algorithm there would let anyone holding the public key forge them.
    """
    metadata = server.get("/.well-known/openid-configuration").json()
    lists = {
        name: value for name, value in metadata.items() if name.endswith("_alg_values_supported")
    }
    assert lists
    for name, value in lists.items():
        assert "none" not in value, name
        if name.endswith("_endpoint_auth_signing_alg_values_supported"):  # client authentication
            methods = metadata[name.replace("signing_alg_values", "methods")]
            if any(alg.startswith("HS") for alg in value):
                assert "client_secret_jwt" in methods, name
            continue
        assert not any(alg.startswith("HS") for alg in value), name
