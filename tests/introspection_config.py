"""A configuration with an opaque-token API and a resource server allowed to introspect."""

from __future__ import annotations

from typing import Any

from tests.oidc import OIDC_CONFIG

OPAQUE_API = "https://reports.example.test"
JWT_API = "https://api.example.test"

INTROSPECTION_CONFIG: dict[str, Any] = {
    **OIDC_CONFIG,
    "clients": [
        *OIDC_CONFIG["clients"],
        {
            "client_id": "reports-job",
            "client_secret": "reports-job-secret",
            "grant_types": ["client_credentials"],
            "scopes": ["reports:read", "api:read"],
        },
        {"client_id": "reports-api", "client_secret": "reports-api-secret", "grant_types": []},
        {"client_id": "other-api", "client_secret": "other-api-secret", "grant_types": []},
    ],
    "api_resources": [
        {
            "audience": JWT_API,
            "scopes": ["api:read", "api:write"],
            "introspecting_clients": ["other-api"],
        },
        {
            "audience": OPAQUE_API,
            "scopes": ["reports:read"],
            "access_token_format": "opaque",
            "introspecting_clients": ["reports-api"],
        },
    ],
}
