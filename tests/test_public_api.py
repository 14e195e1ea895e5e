"""The package root exports the documented names, sorted and all importable."""

from __future__ import annotations

import tokensmith

DOCUMENTED = {
    "create_app",
    "Settings",
    "Services",
    "Token",
    "TokenResponse",
    "DefaultTokenCreationService",
    "TokenResponseGenerator",
    "OAuthError",
}


def test_all_is_sorted():
    assert tokensmith.__all__ == sorted(tokensmith.__all__)


def test_all_contains_the_documented_names_and_each_resolves():
    assert set(tokensmith.__all__) >= DOCUMENTED
    for name in tokensmith.__all__:
        assert getattr(tokensmith, name) is not None


def test_no_public_name_is_left_out_of_all():
    public = {
        name
        for name, value in vars(tokensmith).items()
        if not name.startswith("_") and not isinstance(value, type(tokensmith))
    }
    assert public == set(tokensmith.__all__)
