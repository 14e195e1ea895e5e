"""Build a stage from the components it names in its constructor.

This is the Python counterpart of a DI container's constructor injection:
a replacement stage declares the parameters it wants (``settings``,
``clients``, ``keys``, ...) and receives exactly those, so a subclass that
needs one more component only has to name it.
"""

from __future__ import annotations

import inspect
from typing import Any, TypeVar

T = TypeVar("T")


def build(cls: type[T], components: dict[str, Any]) -> T:
    """Instantiate ``cls`` with the keyword arguments its ``__init__`` asks for."""
    signature = inspect.signature(cls)
    kwargs: dict[str, Any] = {}
    for name, parameter in signature.parameters.items():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if name in components:
            kwargs[name] = components[name]
        elif parameter.default is parameter.empty:
            available = ", ".join(sorted(components))
            raise TypeError(
                f"{cls.__qualname__} needs {name!r}, which is not a component (have: {available})"
            )
    return cls(**kwargs)
