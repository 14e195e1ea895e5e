"""A deployment's own user directory and profile rules, plugged in through Services."""

from __future__ import annotations

from tests.helpers import basic_auth, decode_jwt_unverified
from tests.oidc import OIDC_CONFIG, REDIRECT_URI, authorize_params, query_of, sign_in
from tokensmith import Services
from tokensmith.models.user import User
from tokensmith.tokens.profile_service import DefaultProfileService

CAROL = User(
    subject_id="ldap-carol-1",
    username="carol",
    email="carol@corp.test",
    email_verified=True,
    profile={"given_name": "Carol"},
)


class DirectoryAuthenticator:
    """Stands in for an LDAP bind: knows only carol."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def authenticate(self, username: str, password: str) -> User | None:
        self.calls.append(username)
        return CAROL if (username, password) == ("carol", "ldap-secret") else None


class DepartmentProfileService(DefaultProfileService):
    async def get_profile_claims(self, user, scopes):
        claims = await super().get_profile_claims(user, scopes)
        if "profile" in scopes:
            claims["department"] = "research"
        return claims


def code_flow_tokens(client, username, password):
    flow = authorize_params()
    response = sign_in(client, flow, username=username, password=password)
    code = query_of(response.headers["location"])["code"]
    return client.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": flow["_verifier"],
        },
        headers=basic_auth("web-app", "web-secret"),
    ).json()


def test_custom_user_authenticator_signs_in_a_directory_user(make_client):
    client = make_client(Services(user_authenticator=DirectoryAuthenticator), **OIDC_CONFIG)
    tokens = code_flow_tokens(client, "carol", "ldap-secret")
    _, id_claims = decode_jwt_unverified(tokens["id_token"])
    assert id_claims["sub"] == "ldap-carol-1"
    assert id_claims["given_name"] == "Carol"
    userinfo = client.get(
        "/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert userinfo.json()["email"] == "carol@corp.test"


def test_custom_user_authenticator_replaces_the_built_in_one(make_client):
    client = make_client(Services(user_authenticator=DirectoryAuthenticator), **OIDC_CONFIG)
    flow = authorize_params()
    response = sign_in(client, flow, username="alice", password="correct horse battery staple")
    assert response.status_code == 401  # alice is in the built-in store, not the directory


def test_replaced_profile_service_feeds_id_token_and_userinfo(make_client):
    client = make_client(Services(profile_service=DepartmentProfileService), **OIDC_CONFIG)
    tokens = code_flow_tokens(client, "alice", "correct horse battery staple")
    _, id_claims = decode_jwt_unverified(tokens["id_token"])
    assert id_claims["department"] == "research"
    userinfo = client.get(
        "/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert userinfo.json()["department"] == "research"
