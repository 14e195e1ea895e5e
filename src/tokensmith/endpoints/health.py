"""GET /healthz (liveness) and GET /readyz (readiness: the database answers).

A load balancer takes a process out of rotation when /readyz fails and
restarts it when /healthz does; neither needs authentication or touches secrets.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import Response

from tokensmith.endpoints._rendering import json_response


@dataclass(slots=True, frozen=True)
class HealthEndpoints:
    engine: AsyncEngine

    async def live(self, request: Request) -> Response:
        return json_response({"status": "ok"})

    async def ready(self, request: Request) -> Response:
        try:
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except (SQLAlchemyError, OSError):
            return json_response({"status": "unavailable", "database": "unreachable"}, 503)
        return json_response({"status": "ok", "database": "ok"})
