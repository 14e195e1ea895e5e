"""ExactPathRouter: Starlette's router with a dictionary in front of its list.

Starlette tries each route's regular expression in order until one matches.
With the admin API, the protocol endpoints and the pages there are some fifty
routes, and the profile of a client_credentials request showed 17% of its CPU
in ``Router.app`` and ``Route.matches``. Almost every route is a fixed path,
so a request for one is found by a dictionary lookup on (path, method); the
routes with path parameters, wrong methods (405) and unknown paths (404) fall
through to Starlette's own matching, unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from starlette.routing import BaseRoute, Route, Router
from starlette.types import Receive, Scope, Send

__all__ = ["ExactPathRouter"]


class ExactPathRouter(Router):
    def __init__(self, routes: Sequence[BaseRoute], **options: Any) -> None:
        super().__init__(list(routes), **options)
        self._exact: dict[tuple[str, str], Route] = {}
        for route in self.routes:
            if isinstance(route, Route) and not route.param_convertors and route.methods:
                for method in route.methods:
                    # The first route listed wins, as in Starlette's own matching.
                    self._exact.setdefault((route.path, method), route)

    @property
    def fixed_routes(self) -> Mapping[tuple[str, str], Route]:
        """(path, method) -> the route that answers it, for every fixed path."""
        return self._exact

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Under a root_path (a mount, a proxy prefix) Starlette's matching strips it first.
        if scope["type"] == "http" and not scope.get("root_path"):
            route = self._exact.get((scope["path"], scope["method"]))
            if route is not None:
                scope.setdefault("router", self)
                scope["route"] = route
                scope["endpoint"] = route.endpoint
                scope["path_params"] = dict(scope.get("path_params", {}))
                await route.handle(scope, receive, send)
                return
        await super().app(scope, receive, send)
