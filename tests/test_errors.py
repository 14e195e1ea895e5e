"""OAuthError: the wire shape and the RFC 6749 character rule for descriptions."""

from __future__ import annotations

import pytest

from tokensmith.errors import InvalidClient, InvalidScope, OAuthError, printable


def test_error_body_omits_absent_fields():
    assert InvalidScope().to_dict() == {"error": "invalid_scope"}
    assert InvalidScope("no").to_dict() == {"error": "invalid_scope", "error_description": "no"}


def test_description_with_forbidden_characters_is_a_programming_error():
    with pytest.raises(ValueError, match="RFC 6749"):
        OAuthError('has "quotes"')


def test_printable_makes_user_input_safe_to_quote():
    value = printable('evil"\\\u00e9' + "x" * 200)
    OAuthError(value)  # does not raise
    assert value.startswith("evil???")
    assert value.endswith("...")


def test_with_description_keeps_class_and_headers():
    error = InvalidClient().with_description("bad secret")
    assert isinstance(error, InvalidClient)
    assert error.status_code == 401
    assert error.headers["WWW-Authenticate"].startswith("Basic")
