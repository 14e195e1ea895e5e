"""OAuth JSON answers: the no-store headers, built once, are the ones Starlette would build."""

from __future__ import annotations

import orjson
from starlette.responses import Response

from tokensmith.endpoints._rendering import JSON_MEDIA_TYPE, NO_STORE, json_response


def starlette_headers(
    body: dict, status: int, headers: dict[str, str]
) -> list[tuple[bytes, bytes]]:
    return Response(
        orjson.dumps(body), status, headers={**NO_STORE, **headers}, media_type=JSON_MEDIA_TYPE
    ).raw_headers


def test_a_json_answer_has_the_headers_starlette_would_give_it():
    body = {"access_token": "x", "token_type": "Bearer", "expires_in": 3600}
    response = json_response(body)
    assert sorted(response.raw_headers) == sorted(starlette_headers(body, 200, {}))
    assert (b"cache-control", b"no-store") in response.raw_headers
    assert (b"pragma", b"no-cache") in response.raw_headers
    assert (b"content-length", str(len(response.body)).encode()) in response.raw_headers
    assert orjson.loads(response.body) == body


def test_extra_headers_and_error_statuses_keep_every_header():
    body = {"error": "invalid_client"}
    extra = {"WWW-Authenticate": 'Basic realm="tokensmith"', "Cache-Control": "no-store, private"}
    response = json_response(body, 401, extra)
    assert response.status_code == 401
    assert sorted(response.raw_headers) == sorted(starlette_headers(body, 401, extra))
    assert (b"cache-control", b"no-store, private") in response.raw_headers
    assert [name for name, _ in response.raw_headers].count(b"cache-control") == 1
