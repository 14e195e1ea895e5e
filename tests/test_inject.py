"""Stages receive the components they name in their constructors."""

from __future__ import annotations

import pytest

from tokensmith._inject import build


class NeedsSettings:
    def __init__(self, settings, optional=7):
        self.settings = settings
        self.optional = optional


def test_build_passes_only_named_components():
    built = build(NeedsSettings, {"settings": "s", "keys": "k"})
    assert built.settings == "s"
    assert built.optional == 7


def test_build_names_the_missing_component():
    with pytest.raises(TypeError, match="NeedsSettings needs 'settings'"):
        build(NeedsSettings, {"keys": "k"})
