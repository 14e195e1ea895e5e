"""Which routes are rate limited, and under which ``[rate_limits]`` settings.

``limit_routes`` takes the app's route list and returns it with the limited
endpoints wrapped; everything else passes through untouched, so an endpoint
with no limit configured costs nothing.

Counters live in Redis when ``redis_url`` is set, and in the SQL database
otherwise: either way every process and host shares them, so ``serve
--workers N`` lets through the configured rate, not N times it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.routing import BaseRoute, Route

from tokensmith.ratelimit.counters import RedisCounter, SqlCounter, WindowCounter
from tokensmith.ratelimit.guard import EndpointLimit, Refusal, oauth_refusal, page_refusal
from tokensmith.ratelimit.rates import parse_rate
from tokensmith.settings import Settings
from tokensmith.stores.sql.rate_limits import SqlRateLimitStore

__all__ = ["LIMITED_ROUTES", "limit_routes"]

LIMITED_ROUTES: dict[tuple[str, str], tuple[str, str, Refusal]] = {
    # (path, method): (counter name, [rate_limits] key prefix, how to refuse)
    ("/token", "POST"): ("token", "token", oauth_refusal),
    ("/par", "POST"): ("par", "authorize", oauth_refusal),
    ("/authorize", "GET"): ("authorize", "authorize", page_refusal),
    ("/authorize", "POST"): ("authorize", "authorize", page_refusal),
    ("/device_authorization", "POST"): (
        "device_authorization",
        "device_authorization",
        oauth_refusal,
    ),
    ("/backchannel", "POST"): ("backchannel", "backchannel", oauth_refusal),
    ("/login", "POST"): ("login", "login", page_refusal),
    # Entering a user code and confirming it both test a code: one budget.
    ("/device", "POST"): ("device_verification", "device_verification", page_refusal),
    ("/device/confirm", "POST"): ("device_verification", "device_verification", page_refusal),
}


def limit_routes(
    routes: Sequence[BaseRoute], settings: Settings, redis: Redis | None, engine: AsyncEngine
) -> list[BaseRoute]:
    """``routes`` with each limited endpoint wrapped in its EndpointLimit."""
    if not settings.rate_limits.enabled:
        return list(routes)
    counts = SqlRateLimitStore(engine)
    limits: dict[str, EndpointLimit] = {}
    limited: list[BaseRoute] = []
    for route in routes:
        if not isinstance(route, Route) or (entry := _entry_for(route)) is None:
            limited.append(route)
            continue
        name, settings_key, refusal = entry
        if name not in limits:
            limits[name] = _endpoint_limit(name, settings_key, refusal, settings, redis, counts)
        limited.append(_rebuilt(route, limits[name]))
    return limited


def _entry_for(route: Route) -> tuple[str, str, Refusal] | None:
    """The LIMITED_ROUTES entry of ``route``; one route never mixes two limits."""
    found = {
        LIMITED_ROUTES[(route.path, method)]
        for method in route.methods or ()
        if (route.path, method) in LIMITED_ROUTES
    }
    if len(found) > 1:
        raise ValueError(f"route {route.path} has methods under different rate limits")
    return next(iter(found), None)


def _endpoint_limit(
    name: str,
    settings_key: str,
    refusal: Refusal,
    settings: Settings,
    redis: Redis | None,
    counts: SqlRateLimitStore,
) -> EndpointLimit:
    config: dict[str, Any] = settings.rate_limits.model_dump()
    counters: dict[str, WindowCounter | None] = {}
    for scope in ("address", "client"):
        rate = parse_rate(config.get(f"{settings_key}_per_{scope}", "off"))
        prefix = f"{settings.redis_key_prefix}:ratelimit:{name}:{scope}"
        if rate is None:
            counters[scope] = None
        elif redis is None:
            counters[scope] = SqlCounter(rate, counts, prefix)
        else:
            counters[scope] = RedisCounter(rate, redis, prefix)
    return EndpointLimit(
        name, counters["address"], counters["client"], refusal, settings.max_request_bytes
    )


def _rebuilt(route: Route, limit: EndpointLimit) -> Route:
    return Route(
        route.path,
        limit.wrap(route.endpoint),
        methods=sorted(route.methods or ()),
        name=route.name,
        include_in_schema=route.include_in_schema,
    )
