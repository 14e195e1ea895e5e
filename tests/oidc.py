"""Shared set-up for the user flows: an OIDC config, PKCE values, and a form-driving helper."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.conftest import AUDIENCE

REDIRECT_URI = "https://app.example.test/callback"
LOGOUT_URI = "https://app.example.test/signed-out"
ALICE_PASSWORD = "correct horse battery staple"

OIDC_CONFIG: dict[str, Any] = {
    "password_grant_enabled": True,
    "clients": [
        {
            "client_id": "web-app",
            "client_name": "Web App",
            "client_secret": "web-secret",
            "grant_types": ["authorization_code", "refresh_token"],
            "scopes": ["openid", "profile", "email", "offline_access", "api:read"],
            "redirect_uris": [REDIRECT_URI],
            "post_logout_redirect_uris": [LOGOUT_URI],
        },
        {
            "client_id": "spa",
            "client_name": "Single Page App",
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "scopes": ["openid", "profile", "offline_access", "api:read"],
            "redirect_uris": ["http://127.0.0.1:9999/spa/callback"],
            "require_consent": False,
        },
        {
            "client_id": "legacy",
            "client_secret": "legacy-secret",
            "grant_types": ["password", "refresh_token"],
            "scopes": ["openid", "profile", "offline_access", "api:read"],
        },
        {
            "client_id": "machine",
            "client_secret": "machine-secret",
            "grant_types": ["client_credentials"],
            "scopes": ["api:read"],
        },
    ],
    "api_resources": [{"audience": AUDIENCE, "scopes": ["api:read", "api:write"]}],
    "users": [
        {
            "username": "alice",
            "password": ALICE_PASSWORD,
            "email": "alice@example.test",
            "claims": {"given_name": "Alice", "family_name": "Liddell", "roles": ["admin"]},
        },
        {"username": "bob", "password": "bob-password-123"},
    ],
}


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).decode().rstrip("=")


def at_hash(access_token: str) -> str:
    """OIDC Core 3.1.3.6, computed independently: base64url(left half of SHA-256)."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[:16]).decode("ascii").rstrip("=")


def hidden_fields(html: str) -> dict[str, str]:
    pairs = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', html)
    return dict(pairs)


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def authorize_params(**overrides: str) -> dict[str, str]:
    verifier, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": "web-app",
        "redirect_uri": REDIRECT_URI,
        "scope": "openid profile email offline_access api:read",
        "state": "state-123",
        "nonce": "nonce-456",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "_verifier": verifier,
    }
    params.update(overrides)
    return params


def sign_in(
    client,
    params: dict[str, str],
    *,
    username="alice",
    password=ALICE_PASSWORD,
    consent: str | None = "allow",
):
    """Drive /authorize, /login and /consent like a browser; return the final response."""
    query = {k: v for k, v in params.items() if not k.startswith("_")}
    response = client.get("/authorize", params=query, follow_redirects=False)
    while response.status_code == 303:
        location = response.headers["location"]
        if not location.startswith("/"):
            return response
        page = client.get(location, follow_redirects=False)
        if location.startswith("/login"):
            fields = hidden_fields(page.text)
            response = client.post(
                "/login",
                data={**fields, "username": username, "password": password, "action": "login"},
                follow_redirects=False,
            )
        elif location.startswith("/consent") and consent is not None:
            fields = hidden_fields(page.text)
            response = client.post(
                "/consent", data={**fields, "action": consent}, follow_redirects=False
            )
        else:
            return page
    return response
