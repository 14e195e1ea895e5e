"""TokenResponseGenerator: dispatch per grant, the TokenResponse wire shape, the size budget."""

from __future__ import annotations

import logging
from typing import ClassVar

from tests.conftest import CLIENT_ID, CLIENT_SECRET
from tests.helpers import assert_oauth_error, basic_auth
from tokensmith import Services, TokenResponse, TokenResponseGenerator


def token_request(client):
    return client.post(
        "/token",
        data={"grant_type": "client_credentials"},
        headers=basic_auth(CLIENT_ID, CLIENT_SECRET),
    )


def test_token_response_omits_none_fields_and_merges_custom():
    response = TokenResponse(access_token="t", access_token_lifetime=60, custom={"a": 1})
    assert response.to_dict() == {
        "a": 1,
        "access_token": "t",
        "token_type": "Bearer",
        "expires_in": 60,
    }


def test_custom_cannot_replace_a_standard_field():
    response = TokenResponse(access_token="t", custom={"access_token": "x", "scope": "y"})
    body = response.to_dict()
    assert body["access_token"] == "t"
    assert body["scope"] == "y"  # scope was None, so the custom value stands


class Recording(TokenResponseGenerator):
    calls: ClassVar[list[str]] = []

    async def process_client_credentials_request(self, request):
        self.calls.append(request.grant_type)
        return await super().process_client_credentials_request(request)


def test_process_dispatches_client_credentials_to_its_method(make_client):
    Recording.calls = []
    client = make_client(Services(token_response_generator=Recording))
    assert token_request(client).status_code == 200
    assert Recording.calls == ["client_credentials"]


def test_oversize_token_logs_a_warning_naming_client_and_size(make_client, caplog):
    client = make_client(token_size_budget=100)
    with caplog.at_level(logging.WARNING, logger="tokensmith.response_generator"):
        response = token_request(client)
    assert response.status_code == 200
    size = len(response.json()["access_token"])
    assert f"issued a {size}-byte token for client {CLIENT_ID} (budget 100)" in caplog.text


def test_oversize_token_is_refused_when_configured(make_client, caplog):
    client = make_client(token_size_budget=100, oversize_token_action="refuse")
    with caplog.at_level(logging.ERROR, logger="tokensmith.response_generator"):
        response = token_request(client)
    body = assert_oauth_error(response, "server_error", 500)
    assert "budget of 100" in body["error_description"]
    assert CLIENT_ID in caplog.text


def test_token_within_budget_logs_nothing(make_client, caplog):
    client = make_client()
    with caplog.at_level(logging.WARNING, logger="tokensmith.response_generator"):
        assert token_request(client).status_code == 200
    assert [r for r in caplog.records if r.name == "tokensmith.response_generator"] == []
