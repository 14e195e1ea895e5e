"""The login page: CSRF protection, failed logins, throttling, session cookie."""

from __future__ import annotations

import pytest

from tests.oidc import OIDC_CONFIG, authorize_params, hidden_fields


@pytest.fixture
def oidc(make_client):
    return make_client(**OIDC_CONFIG, login_max_failures=3, login_lockout_seconds=60)


def login_page(client):
    params = {k: v for k, v in authorize_params().items() if not k.startswith("_")}
    start = client.get("/authorize", params=params, follow_redirects=False)
    return client.get(start.headers["location"])


def post_login(client, fields, password):
    data = {**fields, "username": "alice", "password": password, "action": "login"}
    return client.post("/login", data=data, follow_redirects=False)


def test_login_page_is_html_with_a_csrf_token_and_cookie(oidc):
    page = login_page(oidc)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    fields = hidden_fields(page.text)
    assert fields["csrf_token"] == oidc.cookies["tokensmith_csrf"]
    assert "Web App" in page.text


def test_post_without_csrf_token_is_refused(oidc):
    fields = hidden_fields(login_page(oidc).text)
    del fields["csrf_token"]
    response = post_login(oidc, fields, "correct horse battery staple")
    assert response.status_code == 400
    assert "tokensmith_session" not in oidc.cookies


def test_post_with_a_forged_csrf_token_is_refused(oidc):
    fields = hidden_fields(login_page(oidc).text)
    fields["csrf_token"] = "forged"
    response = post_login(oidc, fields, "correct horse battery staple")
    assert response.status_code == 400
    assert "tokensmith_session" not in oidc.cookies


def test_post_from_a_browser_without_the_csrf_cookie_is_refused(oidc):
    fields = hidden_fields(login_page(oidc).text)
    oidc.cookies.clear()
    response = post_login(oidc, fields, "correct horse battery staple")
    assert response.status_code == 400


def test_wrong_password_shows_the_form_again_with_an_error(oidc):
    response = post_login(oidc, hidden_fields(login_page(oidc).text), "wrong")
    assert response.status_code == 401
    assert "Invalid username or password" in response.text
    assert "tokensmith_session" not in oidc.cookies


def test_repeated_failures_lock_the_account_for_a_while(oidc):
    fields = hidden_fields(login_page(oidc).text)
    for _ in range(3):
        assert post_login(oidc, fields, "wrong").status_code == 401
    locked = post_login(oidc, fields, "correct horse battery staple")
    assert locked.status_code == 429
    assert "Too many failed attempts" in locked.text
    assert "tokensmith_session" not in oidc.cookies


def test_successful_login_sets_an_httponly_lax_session_cookie(oidc):
    response = post_login(
        oidc, hidden_fields(login_page(oidc).text), "correct horse battery staple"
    )
    assert response.status_code == 303
    cookie = next(
        h for h in response.headers.get_list("set-cookie") if h.startswith("tokensmith_session=")
    )
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "samesite=lax" in cookie.lower()
    assert "Secure" not in cookie  # http issuer in tests


def test_session_cookie_is_secure_when_the_issuer_is_https(make_client):
    client = make_client(**OIDC_CONFIG, issuer="https://login.example.test")
    client.base_url = "https://login.example.test"
    response = post_login(
        client, hidden_fields(login_page(client).text), "correct horse battery staple"
    )
    cookie = next(
        h for h in response.headers.get_list("set-cookie") if h.startswith("tokensmith_session=")
    )
    assert "Secure" in cookie


def test_expired_or_unknown_interaction_shows_an_error_page(oidc):
    response = oidc.get("/login?interaction=unknown")
    assert response.status_code == 400
    assert "expired" in response.text
