"""A sample token and context for dry-running hooks (``tokensmith claims test``)."""

from __future__ import annotations

from typing import Final

from tokensmith._types import Claims, JSONObject

SAMPLE_TOKEN: Final[Claims] = {
    "iss": "http://127.0.0.1:8000",
    "sub": "3f1c9e0a5b7d4c2e8a6f1b0d9c7e5a3b",
    "aud": "https://api.example.test",
    "exp": 1900000000,
    "iat": 1899996400,
    "jti": "sample-jti",
    "client_id": "web-app",
    "scope": "openid profile api:read",
}

SAMPLE_CONTEXT: Final[JSONObject] = {
    "user": {
        "id": "3f1c9e0a5b7d4c2e8a6f1b0d9c7e5a3b",
        "username": "alice",
        "primaryEmail": "alice@example.test",
        "primaryPhone": None,
        "name": "Alice Liddell",
        "avatar": None,
        "customData": {"plan": "pro", "tenant": "acme"},
        "identities": {},
        "profile": {"givenName": "Alice", "familyName": "Liddell"},
        "roles": [
            {"id": "admin", "name": "admin", "description": "", "scopes": []},
            {"id": "editor", "name": "editor", "description": "", "scopes": []},
        ],
        "organizations": [],
        "organizationRoles": [],
        "isSuspended": False,
        "updatedAt": 1899996400000,
    },
    "application": {"id": "web-app", "name": "Web App", "type": "Traditional", "customData": {}},
    "grant": {
        "type": "authorization_code",
        "scopes": ["openid", "profile", "api:read"],
        "resource": ["https://api.example.test"],
    },
}
