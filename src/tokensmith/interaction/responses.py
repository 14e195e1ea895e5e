"""Answers to the client's redirect_uri: query string or form post (with RFC 9207 ``iss``)."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit, urlunsplit

from starlette.responses import RedirectResponse, Response

from tokensmith.errors import OAuthError
from tokensmith.interaction.request import RedirectTarget
from tokensmith.ui.pages import page_headers, render_form_post


def authorization_response(target: RedirectTarget, issuer: str, fields: dict[str, str]) -> Response:
    # RFC 9207 section 2: the "iss" parameter tells the client which server
    # answered, defeating mix-up attacks.
    fields = {**fields, "iss": issuer}
    if target.state is not None:
        fields["state"] = target.state
    if target.response_mode == "form_post":
        return render_form_post(target.redirect_uri, fields)
    parts = urlsplit(target.redirect_uri)
    query = f"{parts.query}&{urlencode(fields)}" if parts.query else urlencode(fields)
    location = urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
    return RedirectResponse(location, status_code=303, headers=page_headers())


def error_response(target: RedirectTarget, issuer: str, error: OAuthError) -> Response:
    """RFC 6749 section 4.1.2.1: the error goes back to the client, with state."""
    return authorization_response(target, issuer, error.to_dict())
