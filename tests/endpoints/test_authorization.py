"""GET/POST /authorize: what is refused, how, and where the answer goes."""

from __future__ import annotations

import pytest

from tests.oidc import (
    OIDC_CONFIG,
    REDIRECT_URI,
    authorize_params,
    hidden_fields,
    query_of,
    sign_in,
)


@pytest.fixture
def oidc(make_client):
    return make_client(**OIDC_CONFIG)


def authorize(client, **overrides):
    params = {k: v for k, v in authorize_params(**overrides).items() if not k.startswith("_")}
    params = {k: v for k, v in params.items() if v is not None}
    return client.get("/authorize", params=params, follow_redirects=False)


def assert_error_page(response, text: str) -> None:
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert "location" not in response.headers
    assert text in response.text


def assert_redirected_error(response, error: str) -> dict[str, str]:
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI + "?")
    answer = query_of(location)
    assert answer["error"] == error, answer
    assert answer["state"] == "state-123"
    assert answer["iss"] == "http://127.0.0.1:8000"
    assert "code" not in answer
    return answer


def test_unknown_client_gets_an_error_page_not_a_redirect(oidc):
    assert_error_page(authorize(oidc, client_id="nobody"), "not known")


def test_unregistered_redirect_uri_gets_an_error_page(oidc):
    response = authorize(oidc, redirect_uri="https://evil.example.test/callback")
    assert_error_page(response, "not registered")


@pytest.mark.parametrize(
    "redirect_uri",
    [
        REDIRECT_URI + "/",
        REDIRECT_URI + "?x=1",
        REDIRECT_URI.upper(),
        "https://app.example.test/callback/../callback",
    ],
)
def test_redirect_uri_matching_is_exact(oidc, redirect_uri):
    assert_error_page(authorize(oidc, redirect_uri=redirect_uri), "not registered")


def test_missing_redirect_uri_on_an_openid_request_gets_an_error_page(oidc):
    params = {k: v for k, v in authorize_params().items() if not k.startswith("_")}
    del params["redirect_uri"]
    response = oidc.get("/authorize", params=params, follow_redirects=False)
    assert_error_page(response, "no redirect_uri")


def test_repeated_parameter_gets_an_error_page(oidc):
    response = oidc.get(
        "/authorize?client_id=web-app&client_id=spa&response_type=code", follow_redirects=False
    )
    assert_error_page(response, "repeated")


@pytest.mark.parametrize("response_type", ["token", "id_token", "code id_token"])
def test_other_response_types_are_unsupported(oidc, response_type):
    assert_redirected_error(
        authorize(oidc, response_type=response_type), "unsupported_response_type"
    )


def test_missing_code_challenge_is_invalid_request(oidc):
    params = {k: v for k, v in authorize_params().items() if not k.startswith("_")}
    del params["code_challenge"]
    del params["code_challenge_method"]
    response = oidc.get("/authorize", params=params, follow_redirects=False)
    assert_redirected_error(response, "invalid_request")


@pytest.mark.parametrize("method", ["plain", None])
def test_plain_pkce_is_refused(oidc, method):
    params = {k: v for k, v in authorize_params().items() if not k.startswith("_")}
    if method is None:
        del params["code_challenge_method"]
    else:
        params["code_challenge_method"] = method
    response = oidc.get("/authorize", params=params, follow_redirects=False)
    assert_redirected_error(response, "invalid_request")


def test_scope_outside_the_client_allow_list_is_invalid_scope(oidc):
    assert_redirected_error(authorize(oidc, scope="openid api:write"), "invalid_scope")


def test_request_objects_are_not_supported(oidc):
    assert_redirected_error(
        authorize(oidc, request="eyJhbGciOiJub25lIn0.e30."), "request_not_supported"
    )


def test_client_without_the_code_grant_is_unauthorized(make_client):
    config = {**OIDC_CONFIG}
    config["clients"] = [
        {**OIDC_CONFIG["clients"][0], "grant_types": ["refresh_token"]},
        *OIDC_CONFIG["clients"][1:],
    ]
    client = make_client(**config)
    assert_redirected_error(authorize(client), "unauthorized_client")


def test_prompt_none_without_a_session_is_login_required(oidc):
    assert_redirected_error(authorize(oidc, prompt="none"), "login_required")


def test_prompt_none_combined_with_login_is_invalid_request(oidc):
    assert_redirected_error(authorize(oidc, prompt="none login"), "invalid_request")


def test_prompt_none_with_a_session_but_no_consent_is_consent_required(oidc):
    sign_in(oidc, authorize_params(), consent=None)  # logs in, stops at the consent page
    assert_redirected_error(authorize(oidc, prompt="none"), "consent_required")


def test_prompt_none_with_session_and_consent_returns_a_code_silently(oidc):
    sign_in(oidc, authorize_params())
    response = authorize(oidc, prompt="none")
    assert response.status_code == 303
    assert "code" in query_of(response.headers["location"])


def test_prompt_login_forces_a_new_login(oidc):
    sign_in(oidc, authorize_params())
    response = authorize(oidc, prompt="login")
    assert response.headers["location"].startswith("/login?interaction=")


def test_max_age_zero_forces_a_new_login(oidc):
    sign_in(oidc, authorize_params())
    response = authorize(oidc, max_age="0")
    assert response.headers["location"].startswith("/login?interaction=")


@pytest.mark.parametrize("max_age", ["\u00b2", "-1", "1.5", "9" * 5000])
def test_max_age_that_is_not_a_small_whole_number_is_invalid_request(oidc, max_age):
    # "²" passes str.isdigit() and 5000 digits pass it too; int() refused both: a 500.
    assert_redirected_error(authorize(oidc, max_age=max_age), "invalid_request")


def test_max_age_of_ten_digits_is_accepted(oidc):
    response = authorize(oidc, max_age="9" * 10)
    assert response.headers["location"].startswith("/login?interaction=")


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b'{"client_id": "web-app"}', "application/json", 400),
        (b"client_id=%ff", "application/x-www-form-urlencoded", 400),
        (b"state=" + b"x" * 70_000, "application/x-www-form-urlencoded", 413),
    ],
)
def test_malformed_or_oversized_post_gets_an_error_page(oidc, body, content_type, status):
    # A browser posts here: the answer is the page, as for a bad query, not JSON.
    response = oidc.post(
        "/authorize", content=body, headers={"content-type": content_type}, follow_redirects=False
    )
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert "location" not in response.headers


def test_authorization_parameters_may_be_posted(oidc):
    params = {k: v for k, v in authorize_params().items() if not k.startswith("_")}
    response = oidc.post("/authorize", data=params, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?interaction=")


def test_existing_session_and_consent_skip_both_pages(oidc):
    sign_in(oidc, authorize_params())
    response = authorize(oidc)
    assert response.status_code == 303
    assert response.headers["location"].startswith(REDIRECT_URI + "?code=")


def test_consent_denied_is_access_denied(oidc):
    response = sign_in(oidc, authorize_params(), consent="deny")
    assert_redirected_error(response, "access_denied")


def test_cancelled_login_is_access_denied(oidc):
    start = authorize(oidc)
    page = oidc.get(start.headers["location"])
    response = oidc.post(
        "/login", data={**hidden_fields(page.text), "action": "cancel"}, follow_redirects=False
    )
    assert_redirected_error(response, "access_denied")


def test_form_post_response_mode_renders_an_auto_submitting_form(oidc):
    response = sign_in(oidc, authorize_params(response_mode="form_post"))
    assert response.status_code == 200
    assert f'action="{REDIRECT_URI}"' in response.text
    fields = hidden_fields(response.text)
    assert fields["state"] == "state-123"
    assert fields["iss"] == "http://127.0.0.1:8000"
    assert "code" in fields
    assert "form-action https://app.example.test" in response.headers["content-security-policy"]


def test_authorization_pages_carry_security_headers(oidc):
    page = oidc.get(authorize(oidc).headers["location"])
    assert page.status_code == 200
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    # the form's answer redirects to the client: CSP form-action must allow it
    assert "form-action 'self' https://app.example.test" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"


def test_public_client_without_pkce_is_invalid_request(oidc):
    params = {
        "response_type": "code",
        "client_id": "spa",
        "redirect_uri": "http://127.0.0.1:9999/spa/callback",
        "scope": "openid",
        "state": "s1",
    }
    response = oidc.get("/authorize", params=params, follow_redirects=False)
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("http://127.0.0.1:9999/spa/callback?")
    answer = query_of(location)
    assert answer["error"] == "invalid_request"
    assert answer["state"] == "s1"
    assert "code_challenge" in answer["error_description"]
