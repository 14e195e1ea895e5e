"""Rendering the HTML pages, with the security headers every page carries."""

from __future__ import annotations

import secrets
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.responses import HTMLResponse

_environment = Environment(
    loader=PackageLoader("tokensmith.ui", "templates"),
    autoescape=select_autoescape(["html"]),
    enable_async=False,
)

_BASE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)


def page_headers(form_action: str = "'self'", script_nonce: str | None = None) -> dict[str, str]:
    """CSP, no framing, no referrer (pages can carry codes), no caching."""
    csp = f"{_BASE_CSP}; form-action {form_action}"
    if script_nonce is not None:
        csp += f"; script-src 'nonce-{script_nonce}'"
    return {
        "Content-Security-Policy": csp,
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
        "Pragma": "no-cache",
    }


def render(
    template: str, status_code: int = 200, *, redirects_to: str | None = None, **context: Any
) -> HTMLResponse:
    """A page; ``redirects_to`` is where its form's answer may redirect the browser.

    Browsers apply CSP form-action to the redirects that follow a form
    submission, so a login or consent form must also allow the client's
    redirect_uri origin, or the code never reaches the client.
    """
    html = _environment.get_template(template).render(**context)
    form_action = "'self'" if redirects_to is None else f"'self' {origin(redirects_to)}"
    return HTMLResponse(html, status_code=status_code, headers=page_headers(form_action))


def render_form_post(action: str, fields: dict[str, str]) -> HTMLResponse:
    """OAuth 2.0 Form Post Response Mode: a form the browser submits to the client."""
    nonce = secrets.token_urlsafe(16)
    html = _environment.get_template("form_post.html").render(
        action=action, fields=fields, nonce=nonce
    )
    return HTMLResponse(html, headers=page_headers(form_action=origin(action), script_nonce=nonce))


def origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"
