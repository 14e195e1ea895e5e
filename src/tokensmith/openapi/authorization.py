"""Paths of the authorization request: /authorize (RFC 6749 section 4.1.1) and /par (RFC 9126).

Both take the same parameters, so they are listed once. /authorize is for a
person's browser: what it cannot send back to the client it shows as an HTML
page, and everything else leaves by a 303 redirect. /par is for the client
and answers in JSON like the token endpoint.
"""

from __future__ import annotations

from typing import Any

from tokensmith.openapi._shapes import (
    FORM,
    client_endpoint,
    client_form,
    json_body,
    page,
    ref,
    unavailable,
)

_STRING = {"type": "string"}
_AUTHORIZATION_FIELDS: dict[str, dict[str, Any]] = {
    # RFC 6749 section 4.1.1
    "response_type": {"enum": ["code"], "description": "Only `code` is supported."},
    "client_id": _STRING,
    "redirect_uri": {
        **_STRING,
        "description": "Exactly as registered; may be left out only without scope openid "
        "and with a single registered redirect_uri.",
    },
    "scope": _STRING,
    "state": _STRING,
    # RFC 7636 section 4.3; RFC 9700 section 2.1.1 makes it required unless the client opted out.
    "code_challenge": {**_STRING, "pattern": "^[A-Za-z0-9._~-]{43,128}$"},
    "code_challenge_method": {"enum": ["S256"], "description": "`plain` is refused."},
    # OAuth 2.0 Multiple Response Types / Form Post Response Mode, OIDC Core 3.1.2.1
    "response_mode": {"enum": ["query", "form_post"]},
    "nonce": _STRING,
    "prompt": {**_STRING, "description": "Space-separated: none, login, consent, select_account."},
    "max_age": {"type": "integer", "minimum": 0, "maximum": 9_999_999_999},
    "login_hint": _STRING,
    # RFC 8707 section 2: one resource parameter per API.
    "resource": {"type": "array", "items": _STRING},
    # RFC 9101 request objects are refused with request_not_supported.
    "request": {**_STRING, "description": "Not supported: refused with request_not_supported."},
}
_REQUEST_URI = {
    **_STRING,
    "description": "A request_uri from /par (RFC 9126 section 4); the pushed parameters "
    "then replace every other one but client_id.",
}


def _authorize_responses(*, form: bool) -> dict[str, Any]:
    return {
        "303": {
            "description": "To the client's redirect_uri with code or error, state and iss "
            "(RFC 6749 section 4.1.2, RFC 9207), or on to the login or consent page",
            "headers": {"Location": {"schema": _STRING}},
        },
        "200": page("response_mode=form_post: a page that posts the answer to the client"),
        "400": page(
            "An error page: the client is unknown, the redirect_uri is missing or not "
            "registered, the request_uri cannot be used, or the request is malformed; "
            "none of these can go back to the client (RFC 6749 section 4.1.2.1)"
        ),
        **({"413": page("The form is over the size limit")} if form else {}),
        "429": {
            **page("Too many requests from this address or for this client"),
            "headers": {"Retry-After": {"schema": {"type": "integer"}}},
        },
        **unavailable(),
    }


def _authorize() -> dict[str, Any]:
    summary = "Authorization endpoint (RFC 6749 section 3.1, OpenID Connect Core 3.1.2)"
    fields = {**_AUTHORIZATION_FIELDS, "request_uri": _REQUEST_URI}
    # Blank parameters count as absent (RFC 6749 section 3.1), so none is required
    # here: a request without client_id gets the error page like an unknown one.
    query = [
        {"name": name, "in": "query", "required": False, "schema": schema}
        for name, schema in fields.items()
    ]
    form = {"type": "object", "properties": fields}
    return {
        "get": {
            "summary": summary,
            "security": [],
            "parameters": query,
            "responses": _authorize_responses(form=False),
        },
        "post": {
            "summary": summary + ", parameters in a form",
            "security": [],
            "requestBody": {"required": True, "content": {FORM: {"schema": form}}},
            "responses": _authorize_responses(form=True),
        },
    }


def authorization_paths() -> dict[str, Any]:
    # The client_id of /par comes from client authentication, the form's own field included.
    pushed = {k: v for k, v in _AUTHORIZATION_FIELDS.items() if k != "client_id"}
    return {
        "/authorize": _authorize(),
        "/par": client_endpoint(
            "Pushed authorization request (RFC 9126 section 2)",
            client_form(["response_type"], pushed),
            json_body(ref("PushedAuthorization"), "Stored; send the user to /authorize with it"),
            413,
            429,
            ok_status=201,
        ),
    }
