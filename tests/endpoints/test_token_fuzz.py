"""Malformed input never produces a 5xx at the token endpoint."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import CLIENT_ID, CLIENT_SECRET
from tests.helpers import basic_auth

CONTENT_TYPES = st.sampled_from(
    [
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=latin-1",
        "application/json",
        "text/plain",
        "multipart/form-data",
        "",
        "\x00garbage",
    ]
)
FIELD_NAMES = st.sampled_from(
    ["grant_type", "scope", "resource", "client_id", "client_secret", "code", "x"]
)
FIELD_VALUES = st.one_of(
    st.sampled_from(["client_credentials", "api:read", "https://api.example.test", CLIENT_ID]),
    st.text(max_size=40),
)
FORM_BODIES = st.lists(st.tuples(FIELD_NAMES, FIELD_VALUES), max_size=8).map(
    lambda pairs: "&".join(f"{name}={value}" for name, value in pairs).encode(
        "utf-8", "surrogatepass"
    )
)
AUTHORIZATION = st.one_of(
    st.none(),
    st.just(basic_auth(CLIENT_ID, CLIENT_SECRET)["Authorization"]),
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60),
)

FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def send(client, body: bytes, content_type: str, authorization: str | None):
    headers = {"Content-Type": content_type} if content_type else {}
    if authorization is not None:
        headers["Authorization"] = authorization
    return client.post("/token", content=body, headers=headers)


def check(response) -> None:
    assert response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert ("access_token" in body) == (response.status_code == 200)


@FUZZ
@given(body=st.binary(max_size=512), content_type=CONTENT_TYPES, authorization=AUTHORIZATION)
def test_random_bytes_never_cause_a_server_error(client, body, content_type, authorization):
    check(send(client, body, content_type, authorization))


@FUZZ
@given(body=FORM_BODIES, authorization=AUTHORIZATION)
def test_random_forms_with_repeated_fields_never_cause_a_server_error(client, body, authorization):
    check(send(client, body, "application/x-www-form-urlencoded", authorization))


@pytest.mark.parametrize("size", [70_000, 1_000_000])
def test_huge_bodies_are_refused_without_a_server_error(client, size):
    body = b"grant_type=client_credentials&scope=" + b"a" * size
    response = send(client, body, "application/x-www-form-urlencoded", None)
    assert response.status_code == 413
    assert response.json()["error"] == "invalid_request"


def test_many_fields_are_refused_without_a_server_error(client):
    body = "&".join(f"f{i}=v" for i in range(500)).encode()
    response = send(client, body, "application/x-www-form-urlencoded", None)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
