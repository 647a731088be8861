"""`ApiEdge` (api/middleware.py): CORS exactly as Starlette's CORSMiddleware answers it,
helmet's headers and the access line on every answer, the 431 before any of it."""

from __future__ import annotations

import logging

import pytest
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.header_limit import MAX_HEADER_BYTES
from api.middleware import CORS_HEADERS, CORS_MAX_AGE, CORS_METHODS, SECURITY_HEADERS, ApiEdge

APP_ORIGIN = "http://localhost:3000"
Headers = list[tuple[bytes, bytes]]


def _inner(extra_headers: Headers) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"application/json"), *extra_headers]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"{}"})

    return app


async def _call(app: ASGIApp, method: str, headers: Headers) -> Message:
    scope = {
        "type": "http",
        "method": method,
        "path": "/api/private",
        "raw_path": b"/api/private",
        "query_string": b"",
        "headers": [(b"host", b"api.test"), *headers],
    }
    started: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            started.append(message)

    await app(scope, receive, send)
    return started[0]


REQUESTS = {
    "same-origin": ("GET", []),
    "allowed origin": ("GET", [(b"origin", APP_ORIGIN.encode())]),
    "other origin": ("GET", [(b"origin", b"http://evil.test")]),
    "preflight": (
        "OPTIONS",
        [
            (b"origin", APP_ORIGIN.encode()),
            (b"access-control-request-method", b"GET"),
            (b"access-control-request-headers", b"authorization"),
        ],
    ),
    "refused preflight": (
        "OPTIONS",
        [(b"origin", b"http://evil.test"), (b"access-control-request-method", b"GET")],
    ),
}


@pytest.mark.parametrize("request_name", REQUESTS)
@pytest.mark.parametrize(
    "inner_headers", [[], [(b"vary", b"Accept-Encoding")]], ids=["no-vary", "vary"]
)
async def test_cors_answers_exactly_as_starlettes_middleware(
    request_name: str, inner_headers: Headers
) -> None:
    method, headers = REQUESTS[request_name]
    starlette = CORSMiddleware(
        _inner(inner_headers),
        allow_origins=[APP_ORIGIN],
        allow_methods=CORS_METHODS,
        allow_headers=CORS_HEADERS,
        max_age=CORS_MAX_AGE,
    )
    edge = ApiEdge(_inner(inner_headers), allow_origins=[APP_ORIGIN])
    expected = await _call(starlette, method, headers)
    answered = await _call(edge, method, headers)
    assert answered["status"] == expected["status"]
    assert answered["headers"] == [*expected["headers"], *SECURITY_HEADERS]


@pytest.mark.parametrize("origin", [[], [(b"origin", APP_ORIGIN.encode())]], ids=["", "origin"])
async def test_oversized_head_is_431_with_security_headers_and_logged(
    caplog: pytest.LogCaptureFixture, origin: Headers
) -> None:
    reached: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        reached.append(scope)

    edge = ApiEdge(app, allow_origins=[APP_ORIGIN])
    padding = [(b"x-pad", b"a" * MAX_HEADER_BYTES), *origin]
    with caplog.at_level(logging.INFO, logger="api.access"):
        answered = await _call(edge, "GET", padding)
    assert answered["status"] == 431
    assert not reached
    names = [name for name, _ in answered["headers"]]
    assert b"x-content-type-options" in names
    # Refused before CORS, as when the cap was a middleware outside CORSMiddleware.
    assert b"access-control-allow-origin" not in names
    assert b"vary" not in names
    assert [r.getMessage()[:22] for r in caplog.records] == ['"GET /api/private" 431']


async def test_head_of_exactly_16kb_passes() -> None:
    edge = ApiEdge(_inner([]), allow_origins=[APP_ORIGIN])
    # host: api.test (8 + 4 + 4) + path (12) + this header: 16 KB in all.
    size = MAX_HEADER_BYTES - (4 + 8 + 4) - len(b"/api/private") - (5 + 4)
    answered = await _call(edge, "GET", [(b"x-pad", b"a" * size)])
    assert answered["status"] == 200
    too_big = await _call(edge, "GET", [(b"x-pad", b"a" * (size + 1))])
    assert too_big["status"] == 431
