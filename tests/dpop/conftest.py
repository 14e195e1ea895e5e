"""An app with the clients the DPoP tests need, over the suite's real stores."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import AUDIENCE
from tests.oidc import ALICE_PASSWORD, OIDC_CONFIG

ISSUER = "http://127.0.0.1:8000"
TOKEN_URL = f"{ISSUER}/token"
USERINFO_URL = f"{ISSUER}/userinfo"

DPOP_CONFIG: dict[str, Any] = {
    **OIDC_CONFIG,
    "clients": [
        *OIDC_CONFIG["clients"],
        {
            "client_id": "dpop-machine",
            "client_secret": "dpop-machine-secret",
            "grant_types": ["client_credentials"],
            "scopes": ["api:read"],
            "dpop_bound_access_tokens": True,
        },
        {
            "client_id": "public-app",
            "token_endpoint_auth_method": "none",
            "grant_types": ["password", "refresh_token"],
            "scopes": ["openid", "profile", "offline_access", "api:read"],
        },
    ],
    "api_resources": [
        {"audience": AUDIENCE, "scopes": ["api:read", "api:write"], "access_token_format": "jwt"}
    ],
}


@pytest.fixture
def server(make_client):
    return make_client(**DPOP_CONFIG)


def password_form(client_id: str = "legacy", scope: str = "openid profile offline_access"):
    form = {"grant_type": "password", "username": "alice", "password": ALICE_PASSWORD}
    form["scope"] = scope
    if client_id != "legacy":
        form["client_id"] = client_id
    return form
