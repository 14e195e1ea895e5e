"""Redirect URI matching: exact, except the port of a loopback redirect (RFC 8252 7.3)."""

from __future__ import annotations

import pytest

from tests.helpers import assert_oauth_error
from tests.oidc import OIDC_CONFIG, authorize_params, query_of, sign_in
from tokensmith.interaction.redirect_uris import matching_redirect_uri

WEB = ("https://app.example.test/callback",)
NATIVE = ("http://127.0.0.1/callback", "http://[::1]:8400/cb", "http://localhost/cb")


@pytest.mark.parametrize(
    ("sent", "registered", "expected"),
    [
        ("https://app.example.test/callback", WEB, "https://app.example.test/callback"),
        ("https://app.example.test:8443/callback", WEB, None),  # not loopback: exact only
        ("https://app.example.test/callback/", WEB, None),
        ("http://127.0.0.1:51004/callback", NATIVE, "http://127.0.0.1:51004/callback"),
        ("http://127.0.0.1/callback", NATIVE, "http://127.0.0.1/callback"),
        ("http://[::1]:9/cb", NATIVE, "http://[::1]:9/cb"),
        ("http://localhost:3000/cb", NATIVE, "http://localhost:3000/cb"),
        ("http://127.0.0.1:51004/other", NATIVE, None),  # the path still matches exactly
        ("http://127.0.0.1:51004/callback?x=1", NATIVE, None),
        ("http://localhost:51004/callback", NATIVE, None),  # another host literal
        ("https://127.0.0.1:51004/callback", NATIVE, None),  # another scheme
        ("http://evil@127.0.0.1:51004/callback", NATIVE, None),
        ("http://127.0.0.1:notaport/callback", NATIVE, None),
        ("http://127.0.0.1.evil.test:51004/callback", NATIVE, None),
    ],
)
def test_matching(sent, registered, expected):
    assert matching_redirect_uri(sent, registered) == expected


def redeem(server, redirect_uri: str, token_redirect_uri: str):
    flow = authorize_params(client_id="spa", redirect_uri=redirect_uri, scope="openid")
    location = sign_in(server, flow).headers["location"]
    assert location.startswith(redirect_uri + "?")
    data = {
        "grant_type": "authorization_code",
        "client_id": "spa",
        "code": query_of(location)["code"],
        "code_verifier": flow["_verifier"],
        "redirect_uri": token_redirect_uri,
    }
    return server.post("/token", data=data)


def test_native_app_gets_its_code_on_the_port_it_chose(make_client):
    server = make_client(**OIDC_CONFIG)  # spa registers http://127.0.0.1:9999/spa/callback
    chosen = "http://127.0.0.1:51004/spa/callback"
    tokens = redeem(server, chosen, chosen)
    assert tokens.status_code == 200, tokens.text
    # the code stays bound to the redirect URI it was sent to, port included
    registered = "http://127.0.0.1:9999/spa/callback"
    assert_oauth_error(redeem(server, chosen, registered), "invalid_grant", 400)
