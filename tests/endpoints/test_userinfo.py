"""GET/POST /userinfo with bearer tokens (OIDC Core 5.3, RFC 6750)."""

from __future__ import annotations

import pytest

from tests.helpers import basic_auth
from tests.oidc import OIDC_CONFIG, REDIRECT_URI, authorize_params, query_of, sign_in
from tokensmith import DefaultTokenCreationService, Services


@pytest.fixture
def oidc(make_client):
    return make_client(**OIDC_CONFIG)


def access_token(client, scope="openid profile email offline_access api:read"):
    flow = authorize_params(scope=scope)
    code = query_of(sign_in(client, flow).headers["location"])["code"]
    response = client.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": flow["_verifier"],
        },
        headers=basic_auth("web-app", "web-secret"),
    )
    return response.json()["access_token"]


def test_userinfo_returns_claims_by_granted_scope(oidc):
    token = access_token(oidc)
    for response in (
        oidc.get("/userinfo", headers={"Authorization": f"Bearer {token}"}),
        oidc.post("/userinfo", data={"access_token": token}),
    ):
        assert response.status_code == 200
        claims = response.json()
        assert claims["given_name"] == "Alice"
        assert claims["family_name"] == "Liddell"
        assert claims["email"] == "alice@example.test"
        assert claims["email_verified"] is True
        assert claims["preferred_username"] == "alice"
        assert "roles" not in claims


def test_userinfo_releases_only_the_scopes_granted(oidc):
    token = access_token(oidc, scope="openid")
    claims = oidc.get("/userinfo", headers={"Authorization": f"Bearer {token}"}).json()
    assert set(claims) == {"sub"}


def test_missing_token_is_401_without_an_error_code(oidc):
    response = oidc.get("/userinfo")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="tokensmith"'


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.e30."])
def test_invalid_token_is_401_invalid_token(oidc, token):
    response = oidc.get("/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert response.json()["error"] == "invalid_token"


def test_client_credentials_token_cannot_call_userinfo(oidc):
    response = oidc.post(
        "/token",
        data={"grant_type": "client_credentials"},
        headers=basic_auth("machine", "machine-secret"),
    )
    token = response.json()["access_token"]
    answer = oidc.get("/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_token"


class UserinfoAudienceForAll(DefaultTokenCreationService):
    """Puts the userinfo audience on every token, openid or not."""

    async def create_payload(self, token):
        token.audiences.append("http://127.0.0.1:8000/userinfo")
        return await super().create_payload(token)


def test_token_without_openid_is_insufficient_scope(make_client):
    client = make_client(Services(token_creation=UserinfoAudienceForAll), **OIDC_CONFIG)
    response = client.post(
        "/token",
        data={"grant_type": "client_credentials"},
        headers=basic_auth("machine", "machine-secret"),
    )
    token = response.json()["access_token"]
    answer = client.get("/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 403
    assert 'error="insufficient_scope"' in answer.headers["www-authenticate"]


def test_two_ways_of_sending_the_token_is_invalid_request(oidc):
    token = access_token(oidc)
    response = oidc.post(
        "/userinfo", data={"access_token": token}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
