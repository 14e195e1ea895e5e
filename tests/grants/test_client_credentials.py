"""client_credentials remembers what a client was granted, while client and resources stay."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tokensmith.errors import InvalidScope, InvalidTarget, UnauthorizedClient
from tokensmith.grants import client_credentials as grant_module
from tokensmith.grants.client_credentials import ClientCredentialsGrant
from tokensmith.models.client import Client
from tokensmith.models.requests import TokenRequest
from tokensmith.models.resource import ApiResource
from tokensmith.stores.config import ConfigResourceStore
from tokensmith.stores.sql.resources import ChainedResourceStore, SqlResourceStore

ORDERS = ApiResource("https://orders.example.test", frozenset({"orders:read", "orders:write"}))
BILLING = ApiResource("https://billing.example.test", frozenset({"billing:read"}))
CLIENT = Client(
    "svc",
    "client_secret_basic",
    frozenset({"client_credentials"}),
    frozenset({"orders:read", "billing:read"}),
)


class CountingResources(ConfigResourceStore):
    """The config store, counting the questions the grant asks it."""

    def __init__(self, resources: list[ApiResource]) -> None:
        super().__init__(resources)
        self.questions = 0

    async def find_api_resource(self, audience: str) -> ApiResource | None:
        self.questions += 1
        return await super().find_api_resource(audience)

    async def all_scopes(self) -> list[str]:
        self.questions += 1
        return await super().all_scopes()


class WithoutGeneration:
    """A resource store that cannot say when it changes (no ``generation``)."""

    def __init__(self, inner: CountingResources) -> None:
        self.inner = inner

    async def find_api_resources_by_scope(self, scopes):
        return await self.inner.find_api_resources_by_scope(scopes)

    async def find_api_resource(self, audience: str) -> ApiResource | None:
        return await self.inner.find_api_resource(audience)

    async def all_scopes(self) -> list[str]:
        return await self.inner.all_scopes()


def token_request(scope: str | None = "orders:read", *resources: str) -> TokenRequest:
    parameters = {} if scope is None else {"scope": scope}
    return TokenRequest("client_credentials", parameters, resources=resources)


async def test_the_same_request_is_worked_out_once_and_each_gets_its_own_result():
    resources = CountingResources([ORDERS, BILLING])
    grant = ClientCredentialsGrant(resources)
    results = []
    for _ in range(4):
        request = token_request("orders:read", ORDERS.audience)
        validated = await grant.validate(request, CLIENT)
        assert validated.scopes == ("orders:read",)
        assert validated.resources == (ORDERS,)
        assert validated.parameters is request.parameters
        results.append(validated)
    assert resources.questions == 2  # one resource looked up, the scopes listed: once
    assert len({id(result) for result in results}) == 4
    assert len({id(result.extra_claims) for result in results}) == 4


async def test_other_scope_resources_or_client_records_are_worked_out_anew():
    resources = CountingResources([ORDERS, BILLING])
    grant = ClientCredentialsGrant(resources)
    assert (await grant.validate(token_request(None), CLIENT)).scopes == (
        "billing:read",
        "orders:read",
    )
    validated = await grant.validate(token_request("billing:read"), CLIENT)
    assert validated.resources == (BILLING,)
    narrowed = replace(CLIENT, scopes=frozenset({"orders:read"}))
    with pytest.raises(InvalidScope):
        await grant.validate(token_request("billing:read"), narrowed)
    with pytest.raises(UnauthorizedClient):
        await grant.validate(
            token_request("billing:read"), replace(CLIENT, grant_types=frozenset())
        )


async def test_refusals_are_not_remembered():
    resources = CountingResources([ORDERS])
    grant = ClientCredentialsGrant(resources)
    for _ in range(3):
        with pytest.raises(InvalidTarget):
            await grant.validate(token_request("orders:read", "https://unknown.test"), CLIENT)
        with pytest.raises(InvalidScope):
            await grant.validate(token_request("orders:write"), CLIENT)
    assert resources.questions == 6
    assert grant._remembered == {}


async def test_a_store_without_generation_is_asked_every_time():
    resources = CountingResources([ORDERS])
    grant = ClientCredentialsGrant(WithoutGeneration(resources))  # type: ignore[arg-type]
    for _ in range(3):
        await grant.validate(token_request("orders:read", ORDERS.audience), CLIENT)
    assert resources.questions == 6


async def test_the_memo_is_bounded(monkeypatch):
    monkeypatch.setattr(grant_module, "MAX_REMEMBERED", 2)
    grant = ClientCredentialsGrant(ConfigResourceStore([ORDERS, BILLING]))
    for scope in ("orders:read", "billing:read", "orders:read billing:read", None):
        await grant.validate(token_request(scope), CLIENT)
    assert 0 < len(grant._remembered) <= 2


async def test_a_changed_stored_resource_is_seen_at_once(engine):
    """Removing a resource (or its scope) in this process refuses the next request for it."""
    stored = ChainedResourceStore([ORDERS], SqlResourceStore(engine))
    grant = ClientCredentialsGrant(stored)
    await stored.add_resource(BILLING)
    for _ in range(2):
        validated = await grant.validate(token_request("billing:read", BILLING.audience), CLIENT)
        assert validated.resources == (BILLING,)
    await stored.replace_resource(replace(BILLING, scopes=frozenset({"billing:write"})))
    with pytest.raises(InvalidScope):
        await grant.validate(token_request("billing:read", BILLING.audience), CLIENT)
    await stored.remove_resource(BILLING.audience)
    with pytest.raises(InvalidTarget):
        await grant.validate(token_request(None, BILLING.audience), CLIENT)
    assert (await grant.validate(token_request("orders:read"), CLIENT)).resources == (ORDERS,)


async def test_long_scope_or_resource_values_are_not_remembered():
    """The memo's size stays bounded whatever a client sends (repeats are allowed)."""
    resources = CountingResources([ORDERS])
    grant = ClientCredentialsGrant(resources)
    long_scope = " ".join(["orders:read"] * (grant_module.MAX_REMEMBERED_INPUT // 10))
    for _ in range(2):
        validated = await grant.validate(token_request(long_scope, ORDERS.audience), CLIENT)
        assert validated.scopes == ("orders:read",)
    assert resources.questions == 4
    assert grant._remembered == {}
