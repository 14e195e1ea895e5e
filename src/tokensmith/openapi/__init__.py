"""The OpenAPI 3.1 document of the server: protocol endpoints, admin API, health and metrics.

Written here as data (request bodies of the admin API come from the same
pydantic models that check them, client fields from the ``Client``
dataclass), served at ``GET /openapi.json``, and checked against the running
server by Schemathesis in the test suite (tests/e2e/test_api_schema.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tokensmith.openapi.admin import admin_paths
from tokensmith.openapi.authorization import authorization_paths
from tokensmith.openapi.monitoring import monitoring_paths
from tokensmith.openapi.protocol import protocol_paths
from tokensmith.openapi.schemas import component_schemas

__all__ = ["openapi_document"]


def openapi_document(
    issuer: str, grant_types: Iterable[str], auth_methods: Iterable[str]
) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "tokensmith",
            "version": "1",
            "description": "OAuth 2.0 / OpenID Connect authorization server and its admin API.",
        },
        "servers": [{"url": issuer}],
        "paths": {
            **protocol_paths(sorted(grant_types)),
            **authorization_paths(),
            **monitoring_paths(),
            **admin_paths(),
        },
        "components": {
            "schemas": component_schemas(),
            "securitySchemes": {
                "clientBasic": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "client_secret_basic (RFC 6749 section 2.3.1). Also "
                    "accepted: " + ", ".join(sorted(auth_methods)) + ".",
                },
                "adminBearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An access token of this server for the audience "
                    "{issuer}/admin with the tokensmith:admin scope.",
                },
                "accessToken": {"type": "http", "scheme": "bearer"},
            },
        },
    }
