"""Security headers on every HTML page and every response that carries a credential.

Pages: CSP with frame-ancestors 'none' (clickjacking, RFC 9700 section 4.16),
no referrer (codes in URLs must not leak through Referer, section 4.2), no caching.
JSON with tokens or token metadata: ``Cache-Control: no-store`` and ``Pragma:
no-cache`` (RFC 6749 section 5.1).
"""

from __future__ import annotations

import pytest

from tests.grants.test_device_code import CONFIG as DEVICE_CONFIG
from tests.helpers import basic_auth
from tests.oidc import authorize_params, hidden_fields, sign_in


@pytest.fixture
def server(make_client):
    return make_client(**DEVICE_CONFIG)


def assert_page_headers(response):
    assert response.headers["content-type"].startswith("text/html"), response.headers
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "default-src 'none'" in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"


def assert_no_store(response):
    assert response.headers["cache-control"] == "no-store", response.headers
    assert response.headers["pragma"] == "no-cache", response.headers


def pages(server):
    """Every HTML page a browser meets, reached the way a browser reaches it."""
    params = {k: v for k, v in authorize_params().items() if not k.startswith("_")}
    login = server.get("/authorize", params=params)  # redirected to the login page
    assert 'name="password"' in login.text
    yield "login", login
    wrong = server.post(
        "/login",
        data={**hidden_fields(login.text), "username": "alice", "password": "nope"},
    )
    yield "login error", wrong
    consent_redirect = sign_in(server, authorize_params(), consent=None)
    yield "consent", consent_redirect
    yield "error page", server.get("/authorize", params={"client_id": "nobody"})
    yield "logout", server.get("/logout")
    yield "device", server.get("/device")
    yield "device with code", server.get("/device", params={"user_code": "BCDF-GHJK"})
    yield "ciba pending", server.get("/ciba/pending")


def test_every_html_page_carries_the_security_headers(server):
    seen = []
    for name, response in pages(server):
        if response.status_code in (302, 303):
            continue
        assert_page_headers(response)
        seen.append(name)
    assert {"login", "login error", "consent", "error page", "logout", "device"} <= set(seen)


def test_token_responses_are_not_stored(server):
    ok = server.post(
        "/token",
        data={
            "grant_type": "password",
            "username": "alice",
            "password": "correct horse battery staple",
            "scope": "openid offline_access",
        },
        headers=basic_auth("legacy", "legacy-secret"),
    )
    assert ok.status_code == 200
    assert_no_store(ok)
    assert_no_store(server.post("/token", data={"grant_type": "password"}))
    tokens = ok.json()
    assert_no_store(
        server.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    )
    assert_no_store(
        server.post(
            "/introspect",
            data={"token": tokens["refresh_token"]},
            headers=basic_auth("legacy", "legacy-secret"),
        )
    )
    assert_no_store(
        server.post("/device_authorization", data={"client_id": "tv", "scope": "openid"})
    )
