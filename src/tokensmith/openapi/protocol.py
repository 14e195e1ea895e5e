"""Paths of the protocol endpoints: token, introspection, revocation, userinfo, discovery,
JWKS, device authorization and CIBA backchannel authentication."""

from __future__ import annotations

from typing import Any

from tokensmith.openapi._shapes import (
    FORM,
    JSON,
    client_endpoint,
    client_form,
    errors,
    json_body,
    ref,
    unavailable,
)

_TOKEN_FIELDS = [
    "code",
    "redirect_uri",
    "code_verifier",
    "refresh_token",
    "scope",
    "resource",
    "username",
    "password",
    "device_code",
    "auth_req_id",
    "subject_token",
    "subject_token_type",
    "actor_token",
    "actor_token_type",
    "requested_token_type",
    "audience",
    "assertion",
]


def _userinfo() -> dict[str, Any]:
    answer = {
        "security": [{"accessToken": []}],
        "responses": {
            "200": json_body(ref("UserInfo"), "Claims about the user (OIDC Core 5.3.2)"),
            **errors("BearerError", 400, 401, 403),
            **unavailable(),
        },
    }
    post_body = {
        "content": {
            FORM: {"schema": {"type": "object", "properties": {"access_token": {"type": "string"}}}}
        }
    }
    return {
        "get": {"summary": "UserInfo (OpenID Connect Core 5.3)", **answer},
        "post": {
            "summary": "UserInfo (OpenID Connect Core 5.3)",
            "requestBody": post_body,
            **answer,
        },
    }


def _document(summary: str, schema: str, media_type: str = JSON) -> dict[str, Any]:
    ok = {"description": summary, "content": {media_type: {"schema": ref(schema)}}}
    return {"get": {"summary": summary, "security": [], "responses": {"200": ok}}}


def protocol_paths(grant_types: list[str]) -> dict[str, Any]:
    token_form = client_form(
        ["grant_type"],
        {
            "grant_type": {"enum": grant_types},
            **{name: {"type": "string"} for name in _TOKEN_FIELDS},
        },
    )
    token_hint = {"enum": ["access_token", "refresh_token"]}
    introspection_ok = {
        "description": "The token's state (RFC 7662 section 2.2)",
        "content": {
            JSON: {"schema": ref("Introspection")},
            "application/token-introspection+jwt": {"schema": {"type": "string"}},
        },
    }
    return {
        "/token": client_endpoint(
            "Token endpoint (RFC 6749 section 3.2)",
            token_form,
            json_body(ref("TokenResponse"), "Tokens (RFC 6749 section 5.1)"),
            413,
            429,
        ),
        "/introspect": client_endpoint(
            "Token introspection (RFC 7662)",
            client_form(["token"], {"token": {"type": "string"}, "token_type_hint": token_hint}),
            introspection_ok,
            413,
            429,
        ),
        "/revoke": client_endpoint(
            "Token revocation (RFC 7009)",
            client_form(["token"], {"token": {"type": "string"}, "token_type_hint": token_hint}),
            {"description": "Revoked, or the token was unknown (RFC 7009 section 2.2)"},
            413,
            429,
        ),
        "/device_authorization": client_endpoint(
            "Device authorization (RFC 8628 section 3.1)",
            client_form([], {"scope": {"type": "string"}, "resource": {"type": "string"}}),
            json_body(ref("DeviceAuthorization"), "Codes (RFC 8628 section 3.2)"),
            413,
            429,
        ),
        "/backchannel": client_endpoint(
            "Backchannel authentication (OpenID CIBA Core section 7)",
            client_form(
                ["scope"],
                {
                    name: {"type": "string"}
                    for name in [
                        "scope",
                        "login_hint",
                        "id_token_hint",
                        "login_hint_token",
                        "binding_message",
                        "client_notification_token",
                        "requested_expiry",
                        "acr_values",
                        "resource",
                    ]
                },
            ),
            json_body(ref("BackchannelAuthentication"), "The request is pending"),
            403,
            413,
            429,
        ),
        "/userinfo": _userinfo(),
        "/.well-known/openid-configuration": _document("OpenID Provider metadata", "Discovery"),
        "/.well-known/oauth-authorization-server": _document(
            "Authorization server metadata (RFC 8414)", "Discovery"
        ),
        "/.well-known/jwks.json": _document(
            "Signing keys (RFC 7517)", "JwkSet", "application/jwk-set+json"
        ),
    }
