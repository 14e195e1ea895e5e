"""POST /introspect (RFC 7662): who may see what, and active false for everything else."""

from __future__ import annotations

import time

import jwt
import pytest

from tests.helpers import assert_oauth_error, basic_auth
from tests.introspection_config import INTROSPECTION_CONFIG, JWT_API, OPAQUE_API
from tests.oidc import REDIRECT_URI, authorize_params, query_of, sign_in

JOB = basic_auth("reports-job", "reports-job-secret")
REPORTS_API = basic_auth("reports-api", "reports-api-secret")
OTHER_API = basic_auth("other-api", "other-api-secret")
WEB = basic_auth("web-app", "web-secret")


@pytest.fixture
def server(make_client):
    return make_client(**INTROSPECTION_CONFIG)


def cc_token(server, scope):
    response = server.post(
        "/token", data={"grant_type": "client_credentials", "scope": scope}, headers=JOB
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def introspect(server, token, headers, **extra):
    return server.post("/introspect", data={"token": token, **extra}, headers=headers)


def user_tokens(server, scope="openid profile offline_access api:read"):
    flow = authorize_params(scope=scope)
    code = query_of(sign_in(server, flow).headers["location"])["code"]
    return server.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": flow["_verifier"],
        },
        headers=WEB,
    ).json()


def test_opaque_token_is_active_with_its_stored_claims(server):
    token = cc_token(server, "reports:read")
    response = introspect(server, token, REPORTS_API)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["active"] is True
    assert body["token_type"] == "Bearer"
    assert body["client_id"] == "reports-job"
    assert body["sub"] == "reports-job"
    assert body["aud"] == OPAQUE_API
    assert body["scope"] == "reports:read"
    assert body["iss"] == "http://127.0.0.1:8000"
    assert body["exp"] > time.time()
    assert body["jti"]


def test_jwt_access_token_of_this_issuer_is_active(server):
    token = cc_token(server, "api:read")
    body = introspect(server, token, OTHER_API).json()
    assert body["active"] is True
    assert body["aud"] == JWT_API


def test_the_client_that_got_the_token_may_introspect_it(server):
    token = cc_token(server, "reports:read")
    assert introspect(server, token, JOB).json()["active"] is True


def test_resource_server_may_not_introspect_tokens_for_another_audience(server):
    assert introspect(server, cc_token(server, "reports:read"), OTHER_API).json() == {
        "active": False
    }
    assert introspect(server, cc_token(server, "api:read"), REPORTS_API).json() == {"active": False}


@pytest.mark.parametrize("token", ["unknown-handle", "a.b.c", "", "eyJhbGciOiJub25lIn0.e30."])
def test_unknown_or_malformed_tokens_are_inactive(server, token):
    if token == "":
        assert_oauth_error(introspect(server, token, REPORTS_API), "invalid_request", 400)
        return
    assert introspect(server, token, REPORTS_API).json() == {"active": False}


def test_expired_tokens_are_inactive(make_client):
    config = {**INTROSPECTION_CONFIG, "access_token_lifetime": 1}
    server = make_client(**config)
    opaque = cc_token(server, "reports:read")
    signed = cc_token(server, "api:read")
    time.sleep(2.1)
    assert introspect(server, opaque, REPORTS_API).json() == {"active": False}
    assert introspect(server, signed, OTHER_API).json() == {"active": False}


def test_revoked_opaque_token_is_inactive(server):
    token = cc_token(server, "reports:read")
    assert server.post("/revoke", data={"token": token}, headers=JOB).status_code == 200
    assert introspect(server, token, REPORTS_API).json() == {"active": False}


def test_refresh_token_is_introspectable_by_its_client_only(server):
    refresh = user_tokens(server)["refresh_token"]
    body = introspect(server, refresh, WEB, token_type_hint="refresh_token").json()
    assert body["active"] is True
    assert body["token_type"] == "refresh_token"
    assert body["client_id"] == "web-app"
    assert introspect(server, refresh, OTHER_API).json() == {"active": False}


def test_wrong_hint_does_not_hide_the_token(server):
    token = cc_token(server, "reports:read")
    body = introspect(server, token, REPORTS_API, token_type_hint="refresh_token").json()
    assert body["active"] is True
    refresh = user_tokens(server)["refresh_token"]
    assert introspect(server, refresh, WEB, token_type_hint="access_token").json()["active"]


def test_used_refresh_token_is_inactive(server):
    refresh = user_tokens(server)["refresh_token"]
    server.post(
        "/token", data={"grant_type": "refresh_token", "refresh_token": refresh}, headers=WEB
    )
    assert introspect(server, refresh, WEB).json() == {"active": False}


def test_identity_only_token_is_opaque_and_works_at_userinfo(server):
    tokens = user_tokens(server, scope="openid profile")
    assert "." not in tokens["access_token"]
    userinfo = server.get(
        "/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert userinfo.status_code == 200
    assert userinfo.json()["given_name"] == "Alice"


def test_introspection_requires_client_authentication(server):
    response = server.post("/introspect", data={"token": "x"})
    assert_oauth_error(response, "invalid_client", 401)


def test_jwt_response_is_signed_for_the_asking_client(server):
    token = cc_token(server, "reports:read")
    response = introspect(
        server, token, {**REPORTS_API, "Accept": "application/token-introspection+jwt"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/token-introspection+jwt")
    jwks = server.get("/.well-known/jwks.json").json()
    key = jwt.PyJWK(jwks["keys"][0])
    assert jwt.get_unverified_header(response.text)["typ"] == "token-introspection+jwt"
    claims = jwt.decode(response.text, key.key, algorithms=["ES256"], audience="reports-api")
    assert claims["iss"] == "http://127.0.0.1:8000"
    assert claims["token_introspection"]["active"] is True
    assert claims["token_introspection"]["client_id"] == "reports-job"
