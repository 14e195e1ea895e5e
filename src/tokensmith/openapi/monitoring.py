"""Paths for whoever runs the server: liveness, readiness and Prometheus metrics.

None of them takes authentication or parameters; they are in the document
so a deployment can see what a probe gets back, and so the schema test
calls them like every other operation.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST

from tokensmith.openapi._shapes import json_body, ref


def monitoring_paths() -> dict[str, Any]:
    metrics = {
        "description": "Prometheus text exposition format",
        # The exact media type prometheus_client serves, version parameter and all.
        "content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}},
    }
    return {
        "/healthz": {
            "get": {
                "summary": "Liveness: the process answers",
                "security": [],
                "responses": {"200": json_body(ref("Health"), "Alive")},
            }
        },
        "/readyz": {
            "get": {
                "summary": "Readiness: the database answers too",
                "security": [],
                "responses": {
                    "200": json_body(ref("Health"), "Ready to serve"),
                    # Not the OAuth 503: a load balancer reads this one, not a client.
                    "503": json_body(ref("Health"), "The database is unreachable"),
                },
            }
        },
        "/metrics": {"get": {"summary": "Metrics", "security": [], "responses": {"200": metrics}}},
    }
