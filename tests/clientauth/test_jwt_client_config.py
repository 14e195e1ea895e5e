"""Config for JWT-authenticating clients: the keys each method needs, nothing that cannot work."""

from __future__ import annotations

from typing import Any

import pytest
from joserfc.jwk import ECKey

from tests.clientauth.assertions import CLIENT_JWKS, EC_KEY, HMAC_SECRET, public_jwk
from tokensmith import ConfigError, Settings
from tokensmith.models.client import Client
from tokensmith.stores.config import client_from_config


def client(**fields: Any) -> dict[str, Any]:
    return {"client_id": "app", "grant_types": ["client_credentials"], **fields}


def load(tmp_path, **fields: Any) -> Settings:
    return Settings.load(None, clients=[client(**fields)], data_dir=tmp_path)


def refused(tmp_path, problem: str, **fields: Any) -> None:
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, **fields)
    assert "clients.0" in str(raised.value) or "clients[0]" in str(raised.value)
    assert problem in str(raised.value)


PRIVATE_KEY_JWT = {"token_endpoint_auth_method": "private_key_jwt"}
CLIENT_SECRET_JWT = {"token_endpoint_auth_method": "client_secret_jwt"}


def test_client_secret_jwt_refuses_a_secret_hash_and_says_why(tmp_path):
    refused(
        tmp_path,
        "client_secret_jwt needs the plain client_secret",
        client_secret_hash="sha256$abc",
        **CLIENT_SECRET_JWT,
    )


def test_client_secret_jwt_needs_a_secret_long_enough_for_hs256(tmp_path):
    refused(tmp_path, "at least 32 bytes", client_secret="too-short", **CLIENT_SECRET_JWT)


def test_private_key_jwt_needs_exactly_one_of_jwks_and_jwks_uri(tmp_path):
    refused(tmp_path, "exactly one of jwks, jwks_uri", **PRIVATE_KEY_JWT)
    refused(
        tmp_path,
        "exactly one of jwks, jwks_uri",
        jwks=CLIENT_JWKS,
        jwks_uri="https://app.example/jwks.json",
        **PRIVATE_KEY_JWT,
    )


def test_private_key_jwt_has_no_secret(tmp_path):
    refused(
        tmp_path, "has no client secret", jwks=CLIENT_JWKS, client_secret="x", **PRIVATE_KEY_JWT
    )


def test_private_key_jwt_refuses_a_private_key_in_jwks(tmp_path):
    private = {"keys": [ECKey.import_key(EC_KEY).as_dict(private=True)]}
    refused(tmp_path, "public keys only", jwks=private, **PRIVATE_KEY_JWT)


def test_private_key_jwt_refuses_a_symmetric_key_in_jwks(tmp_path):
    oct_jwks = {"keys": [{"kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"}]}
    refused(tmp_path, "cannot verify an asymmetric signature", jwks=oct_jwks, **PRIVATE_KEY_JWT)


def test_jwks_uri_must_be_https_off_loopback(tmp_path):
    refused(tmp_path, "https URL", jwks_uri="http://app.example/jwks.json", **PRIVATE_KEY_JWT)
    loaded = load(tmp_path, jwks_uri="http://127.0.0.1:9/jwks.json", **PRIVATE_KEY_JWT)
    assert loaded.clients[0].jwks_uri == "http://127.0.0.1:9/jwks.json"


@pytest.mark.parametrize(
    ("method", "alg", "extra"),
    [
        ("private_key_jwt", "HS256", {"jwks": CLIENT_JWKS}),
        ("private_key_jwt", "none", {"jwks": CLIENT_JWKS}),
        ("client_secret_jwt", "RS256", {"client_secret": HMAC_SECRET}),
    ],
)
def test_signing_alg_must_belong_to_the_method(tmp_path, method, alg, extra):
    fields = {"token_endpoint_auth_method": method, "token_endpoint_auth_signing_alg": alg}
    refused(tmp_path, f"{method} signs with one of", **fields, **extra)


def test_signing_alg_must_fit_an_inline_key(tmp_path):
    ec_only = {"keys": [public_jwk(EC_KEY, "ec-1")]}
    fields = {"jwks": ec_only, "token_endpoint_auth_signing_alg": "RS256"}
    refused(tmp_path, "no key in jwks verifies RS256", **fields, **PRIVATE_KEY_JWT)


def test_keys_are_refused_on_secret_methods(tmp_path):
    refused(tmp_path, "only for private_key_jwt", client_secret="s", jwks=CLIENT_JWKS)
    refused(tmp_path, "only for private_key_jwt", client_secret="s", jwks_uri="https://a.example")
    refused(
        tmp_path,
        "only for private_key_jwt",
        client_secret="s",
        token_endpoint_auth_signing_alg="HS256",
    )


def test_config_clients_carry_their_keys_into_the_model(tmp_path):
    settings = Settings.load(
        None,
        data_dir=tmp_path,
        clients=[
            client(client_id="signer", jwks=CLIENT_JWKS, **PRIVATE_KEY_JWT),
            client(client_id="hmac", client_secret=HMAC_SECRET, **CLIENT_SECRET_JWT),
        ],
    )
    signer, hmac = (client_from_config(config) for config in settings.clients)
    assert signer.jwks == CLIENT_JWKS
    assert signer.client_secret_jwt_hmac_key is None
    assert hmac.client_secret_jwt_hmac_key == HMAC_SECRET
    # The HMAC key is a secret: it never shows in a log line that prints a client.
    assert HMAC_SECRET not in repr(hmac)
    assert isinstance(hmac, Client)
