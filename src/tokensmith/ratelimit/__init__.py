"""Rate limits (429 + Retry-After) on the endpoints that can be guessed at or flooded.

``rates`` reads the configured rates, ``counters`` counts requests in fixed
windows (in process or in Redis), ``presented`` says whom to count (source
address, presented client_id), ``guard`` checks and refuses, and ``routes``
puts the guard in front of the configured routes. This package module itself
imports only ``rates``, so the settings can use it without import cycles.
"""

from __future__ import annotations

from tokensmith.ratelimit.rates import OFF, Rate, parse_rate

__all__ = ["OFF", "Rate", "parse_rate"]
