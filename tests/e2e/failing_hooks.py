"""A custom-claims hook that raises, importable by string from the e2e servers' PYTHONPATH."""

from __future__ import annotations


def raising_claims(token, context, environment, api):
    raise RuntimeError("the CRM is down")
