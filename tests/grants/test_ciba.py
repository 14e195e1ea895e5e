"""CIBA (OpenID Connect CIBA Core 1.0) in process: the backchannel endpoint, the grant, approval.

Requests are made by the ``ciba-poll`` and ``ciba-ping`` clients; the user
(alice, or bob) decides through the approval API or the ``/ciba/pending``
page with a session from the real /authorize + /login pages.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import ClassVar

import httpx2
import pytest
from cryptography.fernet import Fernet
from joserfc import jwt
from joserfc.jwk import ECKey
from pydantic import ValidationError

from tests.e2e.conftest import free_port
from tests.helpers import assert_oauth_error, basic_auth, decode_jwt_unverified
from tests.oidc import OIDC_CONFIG, authorize_params, hidden_fields, sign_in
from tokensmith import Services, Settings
from tokensmith.ciba import BackchannelRequest, BackchannelRequestStore, NewRequest, PingDelivery
from tokensmith.errors import AccessDenied
from tokensmith.keys.encryption import KeyEncryptor
from tokensmith.models.client import Client
from tokensmith.models.user import User

CIBA = "urn:openid:params:grant-type:ciba"
POLL = ("ciba-poll", "poll-secret")
PING = ("ciba-ping", "ping-secret")
OTHER = ("ciba-other", "other-secret")


def ciba_client(client_id: str, secret: str, **extra):
    return {
        "client_id": client_id,
        "client_name": f"{client_id} app",
        "client_secret": secret,
        "grant_types": [CIBA, "refresh_token"],
        "scopes": ["openid", "profile", "offline_access", "api:read"],
        **extra,
    }


def config(ping_endpoint: str = "http://127.0.0.1:9/ciba/notify") -> dict:
    ping = ciba_client(
        *PING,
        backchannel_token_delivery_mode="ping",
        backchannel_client_notification_endpoint=ping_endpoint,
    )
    clients = [*OIDC_CONFIG["clients"], ciba_client(*POLL), ciba_client(*OTHER), ping]
    return {**OIDC_CONFIG, "clients": clients}


@pytest.fixture
def server(make_client):
    return make_client(**config())


def backchannel(server, who=POLL, **fields):
    data = {"scope": "openid profile", "login_hint": "alice", **fields}
    return server.post("/backchannel", data=data, headers=basic_auth(*who))


def start(server, who=POLL, **fields) -> str:
    response = backchannel(server, who, **fields)
    assert response.status_code == 200, response.text
    return response.json()["auth_req_id"]


def redeem(server, auth_req_id, who=POLL):
    data = {"grant_type": CIBA, "auth_req_id": auth_req_id}
    return server.post("/token", data=data, headers=basic_auth(*who))


def sign_in_as(server, username="alice", password=None):
    server.cookies.clear()
    kwargs = {"username": username} | ({"password": password} if password else {})
    assert sign_in(server, authorize_params(), **kwargs).status_code == 303


def pending(server) -> tuple[str, list[dict]]:
    response = server.get("/ciba/requests")
    assert response.status_code == 200, response.text
    body = response.json()
    return body["csrf_token"], body["requests"]


def decide(server, action="approve", index=-1):
    """As the signed-in user, approve or deny one pending request through the JSON API."""
    csrf, requests = pending(server)
    request_id = requests[index]["id"]
    response = server.post(f"/ciba/requests/{request_id}/{action}", headers={"X-CSRF-Token": csrf})
    assert response.status_code == 200, response.text
    assert response.json()["id"] == request_id
    return response


def approved_tokens(server, who=POLL, scope="openid") -> dict:
    """Alice's tokens for ``who`` through the whole flow (she approves with the API)."""
    auth_req_id = start(server, who, scope=scope)
    sign_in_as(server)
    decide(server)
    response = redeem(server, auth_req_id, who)
    assert response.status_code == 200, response.text
    return response.json()


# --- section 7: the backchannel authentication request -------------------------------------


def test_backchannel_request_is_acknowledged_with_auth_req_id_expires_in_and_interval(server):
    response = backchannel(server)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"auth_req_id", "expires_in", "interval"}
    # Section 7.3: at least 128 bits, only A-Z a-z 0-9 . - _
    assert re.fullmatch(r"[A-Za-z0-9._-]{43,}", body["auth_req_id"])
    assert body["expires_in"] == 300
    assert body["interval"] == 5


def test_backchannel_requires_client_authentication(server):
    response = server.post("/backchannel", data={"scope": "openid", "login_hint": "alice"})
    assert_oauth_error(response, "invalid_client", 401)
    response = backchannel(server, ("ciba-poll", "wrong"))
    assert_oauth_error(response, "invalid_client", 401)


def test_client_without_the_ciba_grant_is_unauthorized_client(server):
    response = backchannel(server, ("web-app", "web-secret"))
    assert_oauth_error(response, "unauthorized_client", 400)


def test_missing_scope_is_invalid_request(server):
    response = server.post("/backchannel", data={"login_hint": "alice"}, headers=basic_auth(*POLL))
    assert_oauth_error(response, "invalid_request", 400)


def test_scope_without_openid_is_invalid_scope(server):
    assert_oauth_error(backchannel(server, scope="profile api:read"), "invalid_scope", 400)


def test_scope_outside_the_client_allow_list_is_invalid_scope(server):
    assert_oauth_error(backchannel(server, scope="openid email"), "invalid_scope", 400)


def test_unknown_login_hint_is_unknown_user_id(server):
    body = assert_oauth_error(backchannel(server, login_hint="mallory"), "unknown_user_id", 400)
    assert "mallory" not in body["error_description"]


@pytest.mark.parametrize(
    "hints",
    [
        {"login_hint": None},
        {"id_token_hint": "x.y.z"},
        {"login_hint_token": "a.b.c"},
    ],
    ids=["no hint", "two hints", "two hints with a token"],
)
def test_exactly_one_hint_is_required(server, hints):
    data = {"scope": "openid", "login_hint": "alice", **hints}
    data = {name: value for name, value in data.items() if value is not None}
    response = server.post("/backchannel", data=data, headers=basic_auth(*POLL))
    assert_oauth_error(response, "invalid_request", 400)


PARTNER = "https://idp.partner.example"
PARTNER_KEY = ECKey.generate_key("P-256", auto_kid=True)
ISSUER = "http://127.0.0.1:8000"


def trusting(make_client):
    trusted = {"issuer": PARTNER, "jwks": {"keys": [PARTNER_KEY.as_dict(private=False)]}}
    return make_client(**config(), trusted_issuers=[trusted])


def login_hint_token(subject: str, key: ECKey = PARTNER_KEY, **claims) -> str:
    payload = {"iss": PARTNER, "sub": subject, "aud": ISSUER, "exp": int(time.time()) + 300}
    return jwt.encode({"alg": "ES256", "kid": key.kid}, {**payload, **claims}, key)


def backchannel_with_token(server, token: str):
    data = {"scope": "openid profile", "login_hint_token": token}
    return server.post("/backchannel", data=data, headers=basic_auth(*POLL))


def test_login_hint_token_from_a_trusted_issuer_names_the_user(make_client):
    server = trusting(make_client)
    alice = decode_jwt_unverified(approved_tokens(server)["id_token"])[1]["sub"]
    response = backchannel_with_token(server, login_hint_token(alice))
    assert response.status_code == 200, response.text
    sign_in_as(server)  # the request waits for alice, not for whoever signs in
    _, requests = pending(server)
    assert len(requests) == 1
    decide(server)
    tokens = redeem(server, response.json()["auth_req_id"])
    assert tokens.status_code == 200, tokens.text
    assert decode_jwt_unverified(tokens.json()["id_token"])[1]["sub"] == alice


@pytest.mark.parametrize(
    ("claims", "error"),
    [
        ({"exp": int(time.time()) - 3600}, "expired_login_hint_token"),
        ({"aud": "https://someone-else.example"}, "invalid_request"),
        ({"iss": "https://idp.unknown.example"}, "invalid_request"),
        ({"sub": "nobody-we-know"}, "unknown_user_id"),
    ],
    ids=["expired", "wrong audience", "untrusted issuer", "unknown subject"],
)
def test_bad_login_hint_tokens_are_refused(make_client, claims, error):
    server = trusting(make_client)
    alice = decode_jwt_unverified(approved_tokens(server)["id_token"])[1]["sub"]
    response = backchannel_with_token(server, login_hint_token(alice, **claims))
    assert_oauth_error(response, error, 400)


def test_login_hint_token_signed_by_another_key_is_refused(make_client):
    server = trusting(make_client)
    forger = ECKey.generate_key("P-256", auto_kid=True)
    response = backchannel_with_token(server, login_hint_token("anyone", key=forger))
    body = assert_oauth_error(response, "invalid_request", 400)
    assert "signature" in body["error_description"]


def test_without_trusted_issuers_every_login_hint_token_is_refused(server):
    response = backchannel_with_token(server, login_hint_token("anyone"))
    assert_oauth_error(response, "invalid_request", 400)


def test_id_token_hint_names_the_user_even_when_expired(make_client):
    server = make_client(**config(), id_token_lifetime=1)
    hint = approved_tokens(server)["id_token"]
    time.sleep(1.1)
    start(server, login_hint=None, id_token_hint=hint)
    sign_in_as(server, "alice")
    _, requests = pending(server)
    assert [r["client_id"] for r in requests] == ["ciba-poll"]


def tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    return f"{header}.{payload}.{signature[:-4]}AAAA"


@pytest.mark.parametrize("kind", ["garbage", "tampered", "access token", "other client"])
def test_invalid_id_token_hint_is_invalid_request(server, kind):
    own = approved_tokens(server, scope="openid api:read")
    hint = {
        "garbage": "not-a-jwt",
        "tampered": tampered(own["id_token"]),
        "access token": own["access_token"],
        "other client": approved_tokens(server, OTHER)["id_token"],
    }[kind]
    assert hint.count(".") == 2 or kind == "garbage"
    response = server.post(
        "/backchannel",
        data={"scope": "openid", "id_token_hint": hint},
        headers=basic_auth(*POLL),
    )
    assert_oauth_error(response, "invalid_request", 400)


def test_binding_message_too_long_is_invalid_binding_message(server):
    assert backchannel(server, binding_message="x" * 64).status_code == 200
    response = backchannel(server, binding_message="x" * 65)
    assert_oauth_error(response, "invalid_binding_message", 400)


@pytest.mark.parametrize("message", ["line\nbreak", "bell\x07", "rtl\u202eoverride", "   "])
def test_binding_message_must_be_printable(server, message):
    response = backchannel(server, binding_message=message)
    assert_oauth_error(response, "invalid_binding_message", 400)


def test_requested_expiry_sets_expires_in_up_to_the_server_maximum(server):
    assert backchannel(server, requested_expiry="120").json()["expires_in"] == 120
    assert backchannel(server, requested_expiry="999999").json()["expires_in"] == 1800


@pytest.mark.parametrize("value", ["0", "-5", "1.5", "abc", "1" * 12, "\u0661"])
def test_requested_expiry_must_be_a_positive_integer(server, value):
    assert_oauth_error(backchannel(server, requested_expiry=value), "invalid_request", 400)


def test_signed_authentication_requests_are_not_supported(server):
    response = backchannel(server, request="eyJhbGciOiJub25lIn0.e30.")
    assert_oauth_error(response, "invalid_request", 400)


def test_ping_client_without_client_notification_token_is_refused(server):
    body = assert_oauth_error(backchannel(server, PING), "invalid_request", 400)
    assert "client_notification_token" in body["error_description"]


@pytest.mark.parametrize("token", ["has space", "x" * 1025, "semi;colon"])
def test_client_notification_token_must_be_a_bearer_credential(server, token):
    response = backchannel(server, PING, client_notification_token=token)
    assert_oauth_error(response, "invalid_request", 400)


def test_poll_client_may_send_a_client_notification_token_which_is_unused(server):
    assert backchannel(server, client_notification_token="ignored-token").status_code == 200


# --- sections 10 and 11: the token request ---------------------------------------------------


def test_token_request_before_approval_is_authorization_pending(server):
    auth_req_id = start(server)
    assert_oauth_error(redeem(server, auth_req_id), "authorization_pending", 400)


def test_polling_faster_than_the_interval_is_slow_down_and_the_interval_grows(make_client):
    # 3 s, not 1 s: two back-to-back polls must stay inside the interval on a loaded machine.
    server = make_client(**config(), ciba_interval=3)
    auth_req_id = start(server)
    assert_oauth_error(redeem(server, auth_req_id), "authorization_pending", 400)
    body = assert_oauth_error(redeem(server, auth_req_id), "slow_down", 400)
    assert "8 seconds" in body["error_description"]
    # The interval is now 8 s: a poll after the original 3 s is still too fast.
    time.sleep(3.1)
    body = assert_oauth_error(redeem(server, auth_req_id), "slow_down", 400)
    assert "13 seconds" in body["error_description"]


def test_polling_at_the_interval_stays_authorization_pending(make_client):
    server = make_client(**config(), ciba_interval=1)
    auth_req_id = start(server)
    for _ in range(2):
        assert_oauth_error(redeem(server, auth_req_id), "authorization_pending", 400)
        time.sleep(1.1)


def test_expired_request_is_expired_token(server):
    auth_req_id = start(server, requested_expiry="1")
    time.sleep(1.1)
    assert_oauth_error(redeem(server, auth_req_id), "expired_token", 400)


def test_denied_request_is_access_denied(server):
    auth_req_id = start(server)
    sign_in_as(server)
    response = decide(server, "deny")
    assert response.json()["status"] == "denied"
    assert_oauth_error(redeem(server, auth_req_id), "access_denied", 400)


def test_approved_request_yields_tokens_and_an_id_token_for_the_approving_user(server):
    auth_req_id = start(server, scope="openid profile offline_access")
    sign_in_as(server)
    before = int(time.time())
    assert decide(server).json()["status"] == "approved"
    response = redeem(server, auth_req_id)
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert tokens["token_type"] == "Bearer"
    assert tokens["scope"] == "openid profile offline_access"
    assert tokens["refresh_token"]
    _, claims = decode_jwt_unverified(tokens["id_token"])
    userinfo = server.get(
        "/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    ).json()
    assert claims["sub"] == userinfo["sub"]
    assert claims["given_name"] == "Alice"
    assert claims["aud"] == "ciba-poll"
    assert before <= claims["auth_time"] <= int(time.time())
    assert "nonce" not in claims


def test_refresh_token_from_ciba_refreshes(server):
    auth_req_id = start(server, scope="openid offline_access")
    sign_in_as(server)
    decide(server)
    refresh_token = redeem(server, auth_req_id).json()["refresh_token"]
    response = server.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        headers=basic_auth(*POLL),
    )
    assert response.status_code == 200, response.text


def test_auth_req_id_redeems_exactly_once(server):
    auth_req_id = start(server)
    sign_in_as(server)
    decide(server)
    assert redeem(server, auth_req_id).status_code == 200
    assert_oauth_error(redeem(server, auth_req_id), "invalid_grant", 400)


def test_another_client_cannot_redeem_or_slow_down_the_request(server):
    auth_req_id = start(server)
    assert_oauth_error(redeem(server, auth_req_id, OTHER), "invalid_grant", 400)
    assert_oauth_error(redeem(server, auth_req_id), "authorization_pending", 400)
    sign_in_as(server)
    decide(server)
    assert_oauth_error(redeem(server, auth_req_id, OTHER), "invalid_grant", 400)
    assert redeem(server, auth_req_id).status_code == 200


def test_unknown_auth_req_id_is_invalid_grant(server):
    assert_oauth_error(redeem(server, "no-such-request"), "invalid_grant", 400)


def test_missing_auth_req_id_is_invalid_request(server):
    response = server.post("/token", data={"grant_type": CIBA}, headers=basic_auth(*POLL))
    assert_oauth_error(response, "invalid_request", 400)


# --- the user's side: the pending page and the approval API ---------------------------------


def test_pending_page_shows_the_request_and_approves_it_with_csrf(server):
    auth_req_id = start(server, binding_message="Order 4711 <b>")
    sign_in_as(server)
    page = server.get("/ciba/pending")
    assert page.status_code == 200
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert "ciba-poll app" in page.text
    assert "Order 4711 &lt;b&gt;" in page.text
    assert "<li>profile</li>" in page.text
    assert auth_req_id not in page.text
    fields = hidden_fields(page.text)
    assert set(fields) == {"csrf_token", "request_id"}
    forged = server.post(
        "/ciba/pending", data={**fields, "csrf_token": "forged", "action": "approve"}
    )
    assert forged.status_code == 403
    response = server.post(
        "/ciba/pending", data={**fields, "action": "approve"}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/ciba/pending?result=approved"
    assert "No sign-in requests are waiting" in server.get(response.headers["location"]).text
    assert redeem(server, auth_req_id).status_code == 200


def test_pending_page_without_a_session_asks_to_sign_in(server):
    start(server)
    response = server.get("/ciba/pending")
    assert response.status_code == 401
    assert "Sign in" in response.text


def test_approval_api_needs_the_session_and_the_csrf_header(server):
    start(server)
    assert server.get("/ciba/requests").status_code == 401
    sign_in_as(server)
    csrf, (request,) = pending(server)
    assert set(request) == {
        "id",
        "client_id",
        "client_name",
        "scopes",
        "binding_message",
        "expires_at",
    }
    url = f"/ciba/requests/{request['id']}/approve"
    assert server.post(url).status_code == 403
    assert server.post(url, headers={"X-CSRF-Token": "forged"}).status_code == 403
    server.cookies.delete("tokensmith_session")
    assert server.post(url, headers={"X-CSRF-Token": csrf}).status_code == 401


def test_user_sees_and_decides_only_their_own_requests(server):
    start(server, login_hint="bob")
    sign_in_as(server, "bob", "bob-password-123")
    _, (bobs,) = pending(server)
    sign_in_as(server, "alice")
    csrf, requests = pending(server)
    assert requests == []
    response = server.post(f"/ciba/requests/{bobs['id']}/approve", headers={"X-CSRF-Token": csrf})
    assert response.status_code == 404


def test_a_decision_is_final(server):
    auth_req_id = start(server)
    sign_in_as(server)
    csrf, (request,) = pending(server)
    headers = {"X-CSRF-Token": csrf}
    assert (
        server.post(f"/ciba/requests/{request['id']}/approve", headers=headers).status_code == 200
    )
    assert server.post(f"/ciba/requests/{request['id']}/deny", headers=headers).status_code == 404
    assert redeem(server, auth_req_id).status_code == 200


def test_failed_ping_never_breaks_the_approval(make_client):
    server = make_client(**config(f"http://127.0.0.1:{free_port()}/ciba/notify"))
    auth_req_id = start(server, PING, client_notification_token="notify-me-1")
    sign_in_as(server)
    assert decide(server).json()["status"] == "approved"
    assert redeem(server, auth_req_id, PING).status_code == 200


# --- the replaceable stage, discovery, registration -------------------------------------------


class RecordingNotifier:
    seen: ClassVar[list[BackchannelRequest]] = []

    async def notify(self, request: BackchannelRequest) -> None:
        self.seen.append(request)


class RefusingNotifier:
    async def notify(self, request: BackchannelRequest) -> None:
        raise AccessDenied("the user has no authentication device")


def test_notifier_stage_is_called_with_the_request_but_not_the_auth_req_id(make_client):
    RecordingNotifier.seen.clear()
    server = make_client(Services(backchannel_user_notifier=RecordingNotifier), **config())
    auth_req_id = start(server, binding_message="Pay 12 EUR")
    (seen,) = RecordingNotifier.seen
    assert seen.client_id == "ciba-poll"
    assert seen.username == "alice"
    assert seen.binding_message == "Pay 12 EUR"
    assert seen.scopes == ("openid", "profile")
    assert auth_req_id not in repr(seen)


def test_notifier_that_refuses_leaves_no_pending_request(make_client):
    server = make_client(Services(backchannel_user_notifier=RefusingNotifier), **config())
    assert_oauth_error(backchannel(server), "access_denied", 400)
    sign_in_as(server)
    assert pending(server)[1] == []


def test_discovery_advertises_ciba(server):
    metadata = server.get("/.well-known/openid-configuration").json()
    assert metadata["backchannel_authentication_endpoint"] == "http://127.0.0.1:8000/backchannel"
    assert metadata["backchannel_token_delivery_modes_supported"] == ["poll", "ping"]
    assert metadata["backchannel_user_code_parameter_supported"] is False
    assert CIBA in metadata["grant_types_supported"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"backchannel_token_delivery_mode": "ping"}, "required in ping mode"),
        ({"backchannel_client_notification_endpoint": "https://rp.test/cb"}, "only used there"),
        ({"backchannel_token_delivery_mode": "push"}, "poll"),
        (
            {
                "backchannel_token_delivery_mode": "ping",
                "backchannel_client_notification_endpoint": "http://rp.example.test/cb",
            },
            "https URL",
        ),
        ({"backchannel_user_code_parameter": True}, "False"),
    ],
)
def test_client_registration_rules(tmp_path, extra, message):
    client = ciba_client(*POLL, **extra)
    with pytest.raises(ValidationError, match=message):
        Settings(data_dir=tmp_path, clients=[client])


def test_public_client_cannot_use_ciba(tmp_path):
    client = {"client_id": "spa", "token_endpoint_auth_method": "none", "grant_types": [CIBA]}
    with pytest.raises(ValidationError, match="public client cannot use CIBA"):
        Settings(data_dir=tmp_path, clients=[client])


# --- what is stored, and the ping itself ------------------------------------------------------


class SavedGrants:
    """Captures what the request store writes (the SQL store is exercised by the tests above)."""

    def __init__(self):
        self.saved = []

    async def save(self, grant):
        self.saved.append(grant)


async def stored_ping_request(notification_token="notify-secret-1"):
    grants = SavedGrants()
    store = BackchannelRequestStore(None, KeyEncryptor(Fernet.generate_key), grants)
    client = Client(
        client_id="ciba-ping",
        token_endpoint_auth_method="client_secret_basic",
        grant_types=frozenset({CIBA}),
        scopes=frozenset({"openid"}),
        backchannel_token_delivery_mode="ping",
        backchannel_client_notification_endpoint="https://rp.example.test/ciba/notify?k=1",
    )
    new = NewRequest(
        client=client,
        user=User(subject_id="sub-alice", username="alice"),
        scopes=["openid"],
        resources=[],
        binding_message=None,
        lifetime=60,
        interval=5,
        client_notification_token=notification_token,
    )
    auth_req_id, _ = await store.create(new)
    return store, auth_req_id, grants.saved[0]


async def test_auth_req_id_and_notification_token_are_not_stored_in_clear():
    _, auth_req_id, grant = await stored_ping_request()
    stored = repr(grant)
    assert auth_req_id not in stored
    assert "notify-secret-1" not in stored
    assert grant.data["request_id"] != auth_req_id


async def test_ping_posts_the_auth_req_id_with_the_bearer_token_and_never_follows_redirects():
    store, auth_req_id, grant = await stored_ping_request()
    sent = []

    def client_endpoint(request: httpx2.Request) -> httpx2.Response:
        sent.append(request)
        return httpx2.Response(302, headers={"location": "https://elsewhere.example.test/"})

    await PingDelivery(store, 2, httpx2.MockTransport(client_endpoint)).deliver(grant)
    (request,) = sent
    assert str(request.url) == "https://rp.example.test/ciba/notify?k=1"
    assert request.headers["authorization"] == "Bearer notify-secret-1"
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == {"auth_req_id": auth_req_id}


async def test_ping_that_times_out_is_logged_not_raised(caplog):
    store, _, grant = await stored_ping_request()

    async def slow_endpoint(request: httpx2.Request) -> httpx2.Response:
        await asyncio.sleep(5)
        return httpx2.Response(204)

    await PingDelivery(store, 0.2, httpx2.MockTransport(slow_endpoint)).deliver(grant)
    assert "timed out" in caplog.text
    assert "k=1" not in caplog.text
