"""Redis for short-lived state (optional: set ``redis_url``); SQL keeps the rest."""

from __future__ import annotations

from tokensmith.stores.redis.grants import RedisGrantStore
from tokensmith.stores.redis.routing import SHORT_LIVED_KINDS, RoutingGrantStore

__all__ = ["SHORT_LIVED_KINDS", "RedisGrantStore", "RoutingGrantStore"]
