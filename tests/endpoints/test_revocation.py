"""POST /revoke (RFC 7009): refresh token families, opaque tokens, only one's own tokens."""

from __future__ import annotations

import pytest

from tests.helpers import assert_oauth_error, basic_auth
from tests.introspection_config import INTROSPECTION_CONFIG
from tests.oidc import REDIRECT_URI, authorize_params, query_of, sign_in

WEB = basic_auth("web-app", "web-secret")
JOB = basic_auth("reports-job", "reports-job-secret")


@pytest.fixture
def server(make_client):
    return make_client(**INTROSPECTION_CONFIG)


def user_tokens(server):
    flow = authorize_params(scope="openid profile offline_access")
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


def refresh(server, token):
    return server.post(
        "/token", data={"grant_type": "refresh_token", "refresh_token": token}, headers=WEB
    )


def test_revoking_a_refresh_token_revokes_its_family(server):
    tokens = user_tokens(server)
    newer = refresh(server, tokens["refresh_token"]).json()
    response = server.post(
        "/revoke",
        data={"token": newer["refresh_token"], "token_type_hint": "refresh_token"},
        headers=WEB,
    )
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert_oauth_error(refresh(server, newer["refresh_token"]), "invalid_grant", 400)
    # the opaque access tokens of the family are revoked too
    for access in (tokens["access_token"], newer["access_token"]):
        answer = server.get("/userinfo", headers={"Authorization": f"Bearer {access}"})
        assert answer.status_code == 401


def test_revoking_an_opaque_access_token_keeps_the_refresh_token(server):
    tokens = user_tokens(server)
    assert (
        server.post("/revoke", data={"token": tokens["access_token"]}, headers=WEB).status_code
        == 200
    )
    answer = server.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert answer.status_code == 401
    assert refresh(server, tokens["refresh_token"]).status_code == 200


def test_unknown_token_answers_200(server):
    assert server.post("/revoke", data={"token": "nope"}, headers=WEB).status_code == 200


def test_a_client_cannot_revoke_another_clients_token(server):
    tokens = user_tokens(server)
    response = server.post("/revoke", data={"token": tokens["refresh_token"]}, headers=JOB)
    assert_oauth_error(response, "unauthorized_client", 400)
    assert refresh(server, tokens["refresh_token"]).status_code == 200


def test_revocation_requires_client_authentication(server):
    assert_oauth_error(server.post("/revoke", data={"token": "x"}), "invalid_client", 401)


def test_missing_token_is_invalid_request(server):
    assert_oauth_error(server.post("/revoke", data={}, headers=WEB), "invalid_request", 400)
