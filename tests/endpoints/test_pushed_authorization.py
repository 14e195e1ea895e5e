"""POST /par and /authorize?request_uri= (RFC 9126): what is pushed, refused and used once."""

from __future__ import annotations

import re
import sqlite3

import pytest

from tests.oidc import (
    OIDC_CONFIG,
    REDIRECT_URI,
    authorize_params,
    query_of,
    sign_in,
)
from tokensmith.errors import InvalidRequestUri
from tokensmith.interaction.pushed import PushedRequest, PushedRequests
from tokensmith.stores.sql.grants import SqlGrantStore

WEB_APP = ("web-app", "web-secret")
PAR_ONLY_REDIRECT = "https://par-only.example.test/callback"
PAR_CONFIG = {
    **OIDC_CONFIG,
    "clients": [
        *OIDC_CONFIG["clients"],
        {
            "client_id": "par-only",
            "client_secret": "par-secret",
            "grant_types": ["authorization_code"],
            "scopes": ["openid", "profile"],
            "redirect_uris": [PAR_ONLY_REDIRECT],
            "require_pushed_authorization_requests": True,
        },
    ],
}
REQUEST_URI = re.compile(r"^urn:ietf:params:oauth:request_uri:[A-Za-z0-9_-]{43}$")


@pytest.fixture
def oidc(make_client):
    return make_client(**PAR_CONFIG)


def pushable(params: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in params.items() if not k.startswith("_")}


def push(client, params: dict[str, str], auth=WEB_APP):
    return client.post("/par", data=pushable(params), auth=auth)


def pushed_uri(client, params: dict[str, str], auth=WEB_APP) -> str:
    response = push(client, params, auth)
    assert response.status_code == 201, response.text
    return response.json()["request_uri"]


def assert_par_error(response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert response.json()["error"] == error
    assert set(response.json()) <= {"error", "error_description"}


def assert_invalid_request_uri_page(response) -> None:
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert "location" not in response.headers
    assert "invalid_request_uri" in response.text


def authorize_by_reference(client, request_uri: str, client_id: str = "web-app", **extra: str):
    params = {"client_id": client_id, "request_uri": request_uri, **extra}
    return client.get("/authorize", params=params, follow_redirects=False)


def redeem(client, code: str, verifier: str):
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
    }
    return client.post("/token", data=form, auth=WEB_APP)


def test_push_answers_201_with_a_random_request_uri_and_default_lifetime(oidc):
    response = push(oidc, authorize_params())

    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"request_uri", "expires_in"}
    assert REQUEST_URI.match(body["request_uri"])
    assert body["expires_in"] == 60
    assert pushed_uri(oidc, authorize_params()) != body["request_uri"]


def test_par_lifetime_setting_sets_expires_in(make_client):
    client = make_client(**PAR_CONFIG, par_lifetime=300)
    assert push(client, authorize_params()).json()["expires_in"] == 300


def test_public_client_pushes_with_its_client_id(oidc):
    params = authorize_params(
        client_id="spa", redirect_uri="http://127.0.0.1:9999/spa/callback", scope="openid"
    )
    response = oidc.post("/par", data=pushable(params))
    assert response.status_code == 201, response.text


def test_pushed_request_signs_in_consents_and_redeems_with_pkce(oidc):
    params = authorize_params(state="pushed-state")
    request_uri = pushed_uri(oidc, params)
    # RFC 9126 section 4: only the pushed parameters count; these are ignored.
    tampered = {
        "client_id": "web-app",
        "request_uri": request_uri,
        "redirect_uri": "https://evil.example.test/callback",
        "state": "tampered",
        "scope": "openid api:write",
    }

    response = sign_in(oidc, tampered)  # /authorize -> /login -> /consent -> redirect

    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI + "?")
    answer = query_of(location)
    assert answer["state"] == "pushed-state"
    assert answer["iss"] == "http://127.0.0.1:8000"
    token = redeem(oidc, answer["code"], params["_verifier"])
    assert token.status_code == 200, token.text
    assert set(token.json()["scope"].split(" ")) == set(params["scope"].split(" "))
    assert "id_token" in token.json()


def test_used_request_uri_cannot_be_replayed(oidc):
    request_uri = pushed_uri(oidc, authorize_params())
    first = authorize_by_reference(oidc, request_uri)
    assert first.status_code == 303
    assert first.headers["location"].startswith("/login?interaction=")

    assert_invalid_request_uri_page(authorize_by_reference(oidc, request_uri))


def test_request_uri_cannot_be_replayed_after_the_flow_completes(oidc):
    params = authorize_params()
    request_uri = pushed_uri(oidc, params)
    done = sign_in(oidc, {"client_id": "web-app", "request_uri": request_uri})
    assert "code" in query_of(done.headers["location"])

    assert_invalid_request_uri_page(authorize_by_reference(oidc, request_uri))


def test_unknown_request_uri_is_invalid_request_uri(oidc):
    unknown = "urn:ietf:params:oauth:request_uri:" + "A" * 43
    assert_invalid_request_uri_page(authorize_by_reference(oidc, unknown))


def test_request_uri_of_another_client_is_refused_and_not_used_up(oidc):
    request_uri = pushed_uri(oidc, authorize_params())

    assert_invalid_request_uri_page(authorize_by_reference(oidc, request_uri, client_id="spa"))
    # The stranger's attempt did not spend it: its own client can still use it.
    response = authorize_by_reference(oidc, request_uri)
    assert response.headers["location"].startswith("/login?interaction=")


async def test_expired_request_uri_is_refused(engine):
    now = [1_700_000_000.0]
    pushed = PushedRequests(SqlGrantStore(engine), lifetime=60, clock=lambda: now[0])
    request = PushedRequest({"client_id": "web-app", "response_type": "code"}, {})
    request_uri = await pushed.push("web-app", request)
    kept = await pushed.push("web-app", request)

    now[0] += 60
    with pytest.raises(InvalidRequestUri, match="expired"):
        await pushed.take("web-app", request_uri)
    now[0] -= 1  # one second before the end it is still good, once
    assert await pushed.take("web-app", kept) == request
    with pytest.raises(InvalidRequestUri, match="already used"):
        await pushed.take("web-app", kept)


@pytest.mark.parametrize("send_client_id", [False, True], ids=["nothing", "client-id-only"])
def test_push_without_client_authentication_is_invalid_client(oidc, send_client_id):
    params = pushable(authorize_params())
    if not send_client_id:
        del params["client_id"]
    response = oidc.post("/par", data=params)
    assert_par_error(response, 401, "invalid_client")


def test_push_with_a_wrong_client_secret_is_invalid_client(oidc):
    response = push(oidc, authorize_params(), auth=("web-app", "not-the-secret"))
    assert_par_error(response, 401, "invalid_client")
    assert response.headers["www-authenticate"].startswith("Basic")


@pytest.mark.parametrize(
    "redirect_uri", ["https://evil.example.test/callback", REDIRECT_URI + "/", None]
)
def test_push_with_an_unregistered_or_missing_redirect_uri_is_invalid_request(oidc, redirect_uri):
    params = pushable(authorize_params())
    if redirect_uri is None:
        del params["redirect_uri"]
    else:
        params["redirect_uri"] = redirect_uri
    assert_par_error(push(oidc, params), 400, "invalid_request")


def test_pushed_request_uri_parameter_is_invalid_request(oidc):
    params = authorize_params(request_uri="urn:ietf:params:oauth:request_uri:abc")
    assert_par_error(push(oidc, params), 400, "invalid_request")


def test_pushed_request_object_is_not_supported(oidc):
    params = authorize_params(request="eyJhbGciOiJub25lIn0.e30.")
    assert_par_error(push(oidc, params), 400, "request_not_supported")


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"scope": "openid api:write"}, "invalid_scope"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"prompt": "none login"}, "invalid_request"),
        # int() refuses "²" (which str.isdigit() accepts) and over 4300 digits: once a 500.
        ({"max_age": "\u00b2"}, "invalid_request"),
        ({"max_age": "9" * 5000}, "invalid_request"),
    ],
)
def test_pushed_parameters_are_validated_like_an_authorization_request(oidc, overrides, error):
    assert_par_error(push(oidc, authorize_params(**overrides)), 400, error)


def test_push_by_a_client_without_the_code_grant_is_unauthorized_client(make_client):
    config = {**PAR_CONFIG}
    config["clients"] = [
        {**PAR_CONFIG["clients"][0], "grant_types": ["refresh_token"]},
        *PAR_CONFIG["clients"][1:],
    ]
    client = make_client(**config)
    assert_par_error(push(client, authorize_params()), 400, "unauthorized_client")


def test_par_answers_only_post(oidc):
    assert oidc.get("/par").status_code == 405


def test_par_required_client_without_par_is_sent_invalid_request(oidc):
    params = authorize_params(client_id="par-only", redirect_uri=PAR_ONLY_REDIRECT, scope="openid")
    response = oidc.get("/authorize", params=pushable(params), follow_redirects=False)

    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(PAR_ONLY_REDIRECT + "?")
    answer = query_of(location)
    assert answer["error"] == "invalid_request"
    assert answer["error_description"] == "pushed authorization request required"
    assert answer["state"] == "state-123"
    assert "code" not in answer


def test_par_required_client_with_par_goes_on_to_sign_in(oidc):
    params = authorize_params(client_id="par-only", redirect_uri=PAR_ONLY_REDIRECT, scope="openid")
    request_uri = pushed_uri(oidc, params, auth=("par-only", "par-secret"))
    response = authorize_by_reference(oidc, request_uri, client_id="par-only")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?interaction=")


def test_server_wide_par_requirement_refuses_plain_requests_and_is_advertised(make_client):
    client = make_client(**PAR_CONFIG, require_pushed_authorization_requests=True)
    response = client.get("/authorize", params=pushable(authorize_params()), follow_redirects=False)
    assert query_of(response.headers["location"])["error"] == "invalid_request"
    request_uri = pushed_uri(client, authorize_params())
    pushed = authorize_by_reference(client, request_uri)
    assert pushed.headers["location"].startswith("/login?interaction=")

    metadata = client.get("/.well-known/openid-configuration").json()
    assert metadata["require_pushed_authorization_requests"] is True


def test_discovery_advertises_the_par_endpoint(oidc):
    metadata = oidc.get("/.well-known/oauth-authorization-server").json()
    assert metadata["pushed_authorization_request_endpoint"] == "http://127.0.0.1:8000/par"
    assert "require_pushed_authorization_requests" not in metadata


def test_client_credentials_in_the_push_are_not_stored(make_client, tmp_path):
    database = tmp_path / "par.db"
    config = {**PAR_CONFIG}
    config["clients"] = [
        *PAR_CONFIG["clients"],
        {
            "client_id": "post-web",
            "client_secret": "post-web-secret",
            "token_endpoint_auth_method": "client_secret_post",
            "grant_types": ["authorization_code"],
            "scopes": ["openid"],
            "redirect_uris": [REDIRECT_URI],
        },
    ]
    client = make_client(**config, database_url=f"sqlite+aiosqlite:///{database}", redis_url=None)
    params = authorize_params(client_id="post-web", scope="openid")
    response = client.post("/par", data={**pushable(params), "client_secret": "post-web-secret"})
    assert response.status_code == 201, response.text

    with sqlite3.connect(database) as connection:
        rows = connection.execute(
            "SELECT data FROM grants WHERE kind = 'pushed_authorization_request'"
        ).fetchall()
    assert len(rows) == 1
    assert params["code_challenge"] in rows[0][0]
    assert "post-web-secret" not in rows[0][0]
