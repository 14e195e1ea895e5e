"""private_key_jwt with keys at the client's jwks_uri: fetched, cached, refetched for a new kid.

The JWK Set is served by a real loopback HTTP server that the test can
rotate, break or take down.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tests.clientauth.assertions import (
    EC_KEY,
    RSA_KEY,
    JwksServer,
    assertion_form,
    claims_for,
    public_jwk,
    sign,
)
from tests.conftest import BASE_CONFIG
from tests.e2e.conftest import free_port
from tests.helpers import assert_oauth_error

CLIENT_ID = "published-keys-app"
NEW_KEY = ec.generate_private_key(ec.SECP256R1())


def jwks_client(jwks_uri: str) -> dict[str, object]:
    return {
        "client_id": CLIENT_ID,
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks_uri": jwks_uri,
        "grant_types": ["client_credentials"],
        "scopes": ["api:read"],
    }


@pytest.fixture
def publisher() -> Iterator[JwksServer]:
    with JwksServer({"keys": [public_jwk(EC_KEY, "ec-1")]}).running() as server:
        yield server


def app_for(make_client, jwks_uri: str, **settings: object):
    return make_client(clients=[*BASE_CONFIG["clients"], jwks_client(jwks_uri)], **settings)


def token(server, alg: str = "ES256", **sign_options: object):
    assertion = sign(claims_for(CLIENT_ID), alg, **sign_options)
    return server.post("/token", data=assertion_form(assertion))


def test_keys_are_fetched_from_jwks_uri_and_cached(make_client, publisher):
    server = app_for(make_client, publisher.url)
    assert token(server).status_code == 200
    assert token(server).status_code == 200
    assert publisher.requests == 1


def test_unknown_kid_refetches_the_set_after_a_rotation(make_client, publisher):
    server = app_for(make_client, publisher.url, client_jwks_refetch_seconds=0)
    assert token(server).status_code == 200
    publisher.jwks = {"keys": [public_jwk(NEW_KEY, "ec-2")]}
    response = token(server, key=NEW_KEY, kid="ec-2")
    assert response.status_code == 200, response.text
    assert publisher.requests == 2
    # The old key left the set, so it no longer verifies.
    assert_oauth_error(token(server), "invalid_client", 401)


def test_unknown_kids_refetch_at_most_once_per_interval(make_client, publisher):
    server = app_for(make_client, publisher.url, client_jwks_refetch_seconds=3600)
    assert token(server).status_code == 200
    for attempt in range(3):
        response = token(server, key=NEW_KEY, kid=f"made-up-{attempt}")
        assert_oauth_error(response, "invalid_client", 401)
    assert publisher.requests == 1


def test_expired_cache_is_fetched_again(make_client, publisher):
    server = app_for(make_client, publisher.url, client_jwks_cache_seconds=0.001)
    assert token(server).status_code == 200
    assert token(server).status_code == 200
    assert publisher.requests == 2


def test_jwks_uri_down_is_invalid_client(make_client):
    server = app_for(make_client, f"http://127.0.0.1:{free_port()}/jwks.json")
    body = assert_oauth_error(token(server), "invalid_client", 401)
    assert "jwks_uri could not be fetched" in body["error_description"]


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, None),
        (200, b"<html>not json</html>"),
        (200, b'{"keys": [{"kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQ"}]}'),
    ],
)
def test_broken_publisher_is_invalid_client(make_client, publisher, status, body):
    publisher.status, publisher.body = status, body
    server = app_for(make_client, publisher.url)
    body_json = assert_oauth_error(token(server), "invalid_client", 401)
    assert "jwks_uri could not be fetched" in body_json["error_description"]


def test_published_private_key_is_refused(make_client, publisher):
    from joserfc.jwk import ECKey

    publisher.jwks = {"keys": [{**ECKey.import_key(EC_KEY).as_dict(private=True), "kid": "ec-1"}]}
    server = app_for(make_client, publisher.url)
    assert_oauth_error(token(server), "invalid_client", 401)


def test_publisher_recovering_is_used_after_the_refetch_interval(make_client, publisher):
    publisher.status = 503
    server = app_for(make_client, publisher.url, client_jwks_refetch_seconds=0)
    assert_oauth_error(token(server), "invalid_client", 401)
    publisher.status = 200
    assert token(server).status_code == 200


def test_failed_fetch_is_not_retried_within_the_refetch_interval(make_client, publisher):
    publisher.status = 503
    server = app_for(make_client, publisher.url, client_jwks_refetch_seconds=3600)
    assert_oauth_error(token(server), "invalid_client", 401)
    publisher.status = 200
    assert_oauth_error(token(server), "invalid_client", 401)
    assert publisher.requests == 1


def test_rsa_key_published_alongside_is_chosen_by_kid(make_client, publisher):
    publisher.jwks = {"keys": [public_jwk(EC_KEY, "ec-1"), public_jwk(RSA_KEY, "rsa-1")]}
    server = app_for(make_client, publisher.url)
    assert token(server, "PS256").status_code == 200
    assert token(server, "ES256").status_code == 200
