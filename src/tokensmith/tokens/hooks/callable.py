"""An in-process Python custom-claims hook, named by import string.

``get_custom_jwt_claims(token, context, environment, api)`` may be sync or
async. A sync hook runs in a worker thread so that a slow one cannot stall
the event loop; both kinds are bounded by the hook timeout.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any, NoReturn

from tokensmith.tokens.hooks.base import HookDenied, HookFailed, HookInput


class HookApi:
    """The ``api`` argument: what a hook may ask of the server."""

    def deny_access(self, message: str = "access denied by custom claims hook") -> NoReturn:
        raise HookDenied(message)

    # Logto's spelling, so ported hooks read the same.
    denyAccess = deny_access


class CallableClaimsHook:
    def __init__(self, function: Callable[..., Any], *, timeout_seconds: float = 3.0):
        self._function = function
        self._timeout = timeout_seconds

    async def run(self, hook_input: HookInput) -> dict[str, Any]:
        arguments = (hook_input.token, hook_input.context, hook_input.environment, HookApi())
        try:
            async with asyncio.timeout(self._timeout):
                if inspect.iscoroutinefunction(self._function):
                    result = await self._function(*arguments)
                else:
                    result = await asyncio.to_thread(self._function, *arguments)
                    if inspect.isawaitable(result):
                        result = await result
        except HookDenied:
            raise
        except TimeoutError:
            raise HookFailed(f"the hook did not answer within {self._timeout} s") from None
        except Exception as exc:
            raise HookFailed(f"the hook raised {type(exc).__name__}: {exc}"[:200]) from None
        if not isinstance(result, dict):
            raise HookFailed("the hook must return a dict of claims")
        return result
