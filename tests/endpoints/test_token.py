"""POST /token edge cases: every RFC 6749 section 5.2 error the foundation can raise."""

from __future__ import annotations

import base64

import pytest

from tests.conftest import AUDIENCE, CLIENT_ID, CLIENT_SECRET
from tests.helpers import assert_oauth_error, basic_auth, decode_jwt_unverified

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
CC = "grant_type=client_credentials"


def post(client, body: str | bytes, headers: dict[str, str] | None = None):
    auth = basic_auth(CLIENT_ID, CLIENT_SECRET) if headers is None else headers
    return client.post("/token", content=body, headers={**FORM, **auth})


def test_client_credentials_returns_bearer_jwt(client):
    response = post(client, CC + "&scope=api:read")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    header, claims = decode_jwt_unverified(body["access_token"])
    assert header["typ"] == "at+jwt"
    assert claims["scope"] == "api:read"
    assert claims["aud"] == AUDIENCE


def test_client_credentials_without_scope_grants_the_client_allow_list(client):
    body = post(client, CC).json()
    assert body["scope"] == "api:read api:write"


def test_client_credentials_rejects_scope_outside_client_allow_list(client):
    response = post(client, CC + "&scope=billing:read")
    assert_oauth_error(response, "invalid_scope", 400)


def test_client_credentials_rejects_unknown_scope(client):
    assert_oauth_error(post(client, CC + "&scope=nope"), "invalid_scope", 400)


def test_client_credentials_rejects_malformed_scope(client):
    assert_oauth_error(post(client, CC + "&scope=api:read%20%20api:write"), "invalid_scope", 400)


def test_client_with_no_grantable_scope_gets_invalid_scope(make_client):
    settings_clients = [
        {
            "client_id": "empty",
            "client_secret": "empty-secret",
            "grant_types": ["client_credentials"],
            "scopes": [],
        }
    ]
    client = make_client(clients=settings_clients)
    response = post(client, CC, basic_auth("empty", "empty-secret"))
    assert_oauth_error(response, "invalid_scope", 400)


def test_resource_parameter_selects_the_audience(client):
    response = post(client, CC + f"&resource={AUDIENCE}&scope=api:read")
    assert response.status_code == 200
    _, claims = decode_jwt_unverified(response.json()["access_token"])
    assert claims["aud"] == AUDIENCE


def test_unknown_resource_is_invalid_target(client):
    response = post(client, CC + "&resource=https://unknown.example.test")
    assert_oauth_error(response, "invalid_target", 400)


def test_resource_must_be_an_absolute_uri(client):
    assert_oauth_error(post(client, CC + "&resource=relative"), "invalid_target", 400)


def test_scope_outside_the_requested_resource_is_invalid_scope(make_client):
    clients = [
        {
            "client_id": "both",
            "client_secret": "both-secret",
            "grant_types": ["client_credentials"],
            "scopes": ["api:read", "billing:read"],
        }
    ]
    client = make_client(clients=clients)
    response = post(
        client, CC + f"&resource={AUDIENCE}&scope=billing:read", basic_auth("both", "both-secret")
    )
    assert_oauth_error(response, "invalid_scope", 400)


def test_client_secret_post_is_accepted(client):
    response = post(client, CC + "&client_id=post-client&client_secret=post-secret", {})
    assert response.status_code == 200, response.text


def test_missing_client_authentication_is_invalid_client(client):
    response = post(client, CC, {})
    assert_oauth_error(response, "invalid_client", 401)
    assert response.headers["www-authenticate"].startswith("Basic")


def test_wrong_basic_secret_is_invalid_client_with_www_authenticate(client):
    response = post(client, CC, basic_auth(CLIENT_ID, "wrong"))
    assert_oauth_error(response, "invalid_client", 401)
    assert response.headers["www-authenticate"] == 'Basic realm="tokensmith"'


def test_unknown_client_is_invalid_client(client):
    assert_oauth_error(post(client, CC, basic_auth("nobody", "x")), "invalid_client", 401)


def test_wrong_post_secret_is_invalid_client(client):
    body = CC + "&client_id=post-client&client_secret=wrong"
    assert_oauth_error(post(client, body, {}), "invalid_client", 401)


def test_client_must_use_its_registered_auth_method(client):
    # orders-service is registered for client_secret_basic
    body = CC + f"&client_id={CLIENT_ID}&client_secret={CLIENT_SECRET}"
    assert_oauth_error(post(client, body, {}), "invalid_client", 401)


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic !!!not-base64!!!",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:x").decode(),
        "Bearer abc",
        "Basic",
    ],
)
def test_malformed_authorization_header_is_invalid_client(client, authorization):
    response = post(client, CC, {"Authorization": authorization})
    assert_oauth_error(response, "invalid_client", 401)


def test_basic_credentials_are_form_urldecoded(make_client):
    clients = [
        {
            "client_id": "id:with space",
            "client_secret": "p@ss:w%rd",
            "grant_types": ["client_credentials"],
            "scopes": ["api:read"],
        }
    ]
    client = make_client(clients=clients)
    raw = b"id%3Awith+space:p%40ss%3Aw%25rd"
    headers = {"Authorization": "Basic " + base64.b64encode(raw).decode()}
    assert post(client, CC, headers).status_code == 200


def test_two_authentication_methods_is_invalid_request(client):
    body = CC + "&client_id=post-client&client_secret=post-secret"
    assert_oauth_error(post(client, body), "invalid_request", 400)


def test_basic_and_a_different_form_client_id_is_refused(client):
    response = post(client, CC + "&client_id=someone-else")
    assert_oauth_error(response, "invalid_client", 401)


def test_missing_grant_type_is_invalid_request(client):
    assert_oauth_error(post(client, "scope=api:read"), "invalid_request", 400)


def test_empty_grant_type_counts_as_missing(client):
    assert_oauth_error(post(client, "grant_type="), "invalid_request", 400)


@pytest.mark.parametrize(
    "grant_type",
    [
        "password",  # built, but off unless password_grant_enabled
        "urn:ietf:params:oauth:grant-type:saml2-bearer",
        "urn:example:unknown",
        'bad"\\\u00e9',
    ],
)
def test_unbuilt_or_unknown_grant_is_unsupported_grant_type(client, grant_type):
    response = client.post(
        "/token",
        data={"grant_type": grant_type},
        headers=basic_auth(CLIENT_ID, CLIENT_SECRET),
    )
    assert_oauth_error(response, "unsupported_grant_type", 400)


def test_client_not_allowed_the_grant_is_unauthorized_client(client):
    response = post(client, CC, basic_auth("no-cc-client", "no-cc-secret"))
    assert_oauth_error(response, "unauthorized_client", 400)


@pytest.mark.parametrize("name", ["grant_type", "scope", "client_id"])
def test_repeated_parameter_is_invalid_request(client, name):
    body = f"{CC}&scope=api:read&client_id={CLIENT_ID}&{name}=again"
    body = body + (f"&{name}=x" if name == "grant_type" else "")
    response = post(client, body)
    assert_oauth_error(response, "invalid_request", 400)


def test_repeated_resource_is_allowed(make_client):
    resources = [
        {"audience": AUDIENCE, "scopes": ["api:read", "api:write"]},
        {"audience": "https://other.example.test", "scopes": ["api:read"]},
    ]
    client = make_client(api_resources=resources)
    body = f"{CC}&scope=api:read&resource={AUDIENCE}&resource=https://other.example.test"
    response = post(client, body)
    assert response.status_code == 200, response.text
    _, claims = decode_jwt_unverified(response.json()["access_token"])
    assert claims["aud"] == [AUDIENCE, "https://other.example.test"]


@pytest.mark.parametrize(
    "content_type",
    [None, "application/json", "text/plain", "multipart/form-data; boundary=x"],
)
def test_wrong_content_type_is_invalid_request(client, content_type):
    headers = {**basic_auth(CLIENT_ID, CLIENT_SECRET)}
    if content_type:
        headers["Content-Type"] = content_type
    response = client.post("/token", content=CC, headers=headers)
    assert_oauth_error(response, "invalid_request", 400)


def test_content_type_with_charset_is_accepted(client):
    headers = {
        **basic_auth(CLIENT_ID, CLIENT_SECRET),
        "Content-Type": "application/x-www-form-urlencoded; charset=UTF-8",
    }
    assert client.post("/token", content=CC, headers=headers).status_code == 200


def test_body_over_the_size_limit_is_refused(make_client):
    client = make_client(max_request_bytes=1024)
    response = post(client, CC + "&scope=" + "a" * 2000)
    assert_oauth_error(response, "invalid_request", 413)


def test_chunked_body_over_the_size_limit_is_refused(make_client):
    client = make_client(max_request_bytes=1024)

    def chunks():
        yield CC.encode()
        for _ in range(10):
            yield b"&x=" + b"a" * 200

    headers = {**FORM, **basic_auth(CLIENT_ID, CLIENT_SECRET)}
    response = client.post("/token", content=chunks(), headers=headers)
    assert_oauth_error(response, "invalid_request", 413)


def test_non_utf8_body_is_invalid_request(client):
    assert_oauth_error(post(client, b"grant_type=\xff\xfe"), "invalid_request", 400)


def test_percent_encoded_invalid_utf8_is_invalid_request(client):
    assert_oauth_error(post(client, "grant_type=%ff%fe"), "invalid_request", 400)


def test_get_on_token_endpoint_is_405_json(client):
    response = client.get("/token")
    assert response.status_code == 405
    assert response.json()["error"] == "invalid_request"


def test_unknown_path_is_404_json(client):
    response = client.get("/nope")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"


def test_disabled_extra_parameters_are_ignored(client):
    response = post(client, CC + "&scope=api:read&code=abc&redirect_uri=https://x.test")
    assert response.status_code == 200
