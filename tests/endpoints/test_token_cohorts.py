"""The token endpoint's requests of one loop turn read their forms, then go on together."""

from __future__ import annotations

import asyncio

import httpx2

from tests.conftest import CLIENT_ID, CLIENT_SECRET
from tests.helpers import basic_auth
from tokensmith.app import create_app
from tokensmith.clientauth.base import ClientAuthenticatorRegistry
from tokensmith.endpoints import token as token_endpoint


async def test_requests_that_arrive_together_authenticate_after_all_read_their_forms(
    make_settings, monkeypatch
):
    events: list[str] = []
    read_form = token_endpoint.read_form
    authenticate = ClientAuthenticatorRegistry.authenticate

    async def recorded_read(request, max_bytes):
        fields = await read_form(request, max_bytes)
        events.append("form")
        return fields

    async def recorded_authenticate(self, headers, form):
        events.append("authenticate")
        return await authenticate(self, headers, form)

    monkeypatch.setattr(token_endpoint, "read_form", recorded_read)
    monkeypatch.setattr(ClientAuthenticatorRegistry, "authenticate", recorded_authenticate)
    app = create_app(make_settings())
    async with app.router.lifespan_context(app):
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            responses = await asyncio.gather(
                *(
                    client.post(
                        "/token",
                        data={"grant_type": "client_credentials", "scope": "api:read"},
                        headers=basic_auth(CLIENT_ID, CLIENT_SECRET),
                    )
                    for _ in range(3)
                )
            )
    assert [response.status_code for response in responses] == [200, 200, 200]
    assert len({response.json()["access_token"] for response in responses}) == 3
    assert events == ["form"] * 3 + ["authenticate"] * 3
