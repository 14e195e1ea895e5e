"""Prometheus metrics for the token endpoint, recorded at the HTTP edge only.

Each app gets its own registry (several apps in one process, as in tests, do
not collide). With ``PROMETHEUS_MULTIPROC_DIR`` set, prometheus_client's
multiprocess mode aggregates the worker processes of ``serve --workers``.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.requests import Request
from starlette.responses import Response

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class TokenMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.issued = Counter(
            "tokensmith_tokens_issued",
            "Token responses issued, by grant type and client.",
            ["grant_type", "client_id"],
            registry=self.registry,
        )
        self.errors = Counter(
            "tokensmith_token_errors",
            "Token endpoint errors, by OAuth error code.",
            ["error"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "tokensmith_token_request_seconds",
            "Time to answer a token request.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._issued_by: dict[tuple[str, str], Any] = {}

    def count_issued(self, grant_type: str, client_id: str) -> None:
        """One more token response; each (grant type, client) pair's counter looked up once.

        ``labels()`` validates and locks on every call (0.7 us, ~1% of a token request).
        """
        key = (grant_type, client_id)
        counter = self._issued_by.get(key)
        if counter is None:
            counter = self._issued_by[key] = self.issued.labels(grant_type, client_id)
        counter.inc()

    async def handle(self, request: Request) -> Response:
        registry = self.registry
        if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
