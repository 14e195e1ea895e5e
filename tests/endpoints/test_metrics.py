"""Prometheus metrics: tokens issued by grant and client, errors by code, latency."""

from __future__ import annotations

from tests.conftest import CLIENT_ID, CLIENT_SECRET
from tests.helpers import basic_auth


def sample(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    line = f"{name}{{{wanted}}}" if labels else name
    for row in text.splitlines():
        if row.startswith(line + " "):
            return float(row.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_tokens_errors_and_latency(client):
    for _ in range(3):
        client.post(
            "/token",
            data={"grant_type": "client_credentials"},
            headers=basic_auth(CLIENT_ID, CLIENT_SECRET),
        )
    client.post(
        "/token", data={"grant_type": "client_credentials"}, headers=basic_auth(CLIENT_ID, "wrong")
    )
    client.post("/token", data={"grant_type": "nope"}, headers=basic_auth(CLIENT_ID, CLIENT_SECRET))
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    issued = sample(
        text, "tokensmith_tokens_issued_total", grant_type="client_credentials", client_id=CLIENT_ID
    )
    assert issued == 3
    assert sample(text, "tokensmith_token_errors_total", error="invalid_client") == 1
    assert sample(text, "tokensmith_token_errors_total", error="unsupported_grant_type") == 1
    assert sample(text, "tokensmith_token_request_seconds_count") == 5


def test_each_grant_and_client_pair_keeps_its_own_count():
    from prometheus_client import generate_latest

    from tokensmith.metrics import TokenMetrics

    metrics = TokenMetrics()
    for grant_type, client_id in [("a", "c1"), ("a", "c1"), ("a", "c2"), ("b", "c1")]:
        metrics.count_issued(grant_type, client_id)
    text = generate_latest(metrics.registry).decode()
    name = "tokensmith_tokens_issued_total"
    assert sample(text, name, grant_type="a", client_id="c1") == 2
    assert sample(text, name, grant_type="a", client_id="c2") == 1
    assert sample(text, name, grant_type="b", client_id="c1") == 1
