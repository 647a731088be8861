"""The API's edge, one pure ASGI middleware: header cap, CORS, helmet's headers, access log.

Pure ASGI rather than BaseHTTPMiddleware because it runs on every request and the API's
throughput is benchmarked against Express.  The log line names the path but never the
query string, which may carry an `access_token`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from starlette.datastructures import MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.header_limit import (
    HEADER_LINE_OVERHEAD,
    MAX_HEADER_BYTES,
    request_line_bytes,
    send_too_large,
)

logger = logging.getLogger("api.access")

# helmet 7's defaults, as Auth0's Express sample sends them.
SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (
        b"content-security-policy",
        b"default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';"
        b"frame-ancestors 'self';img-src 'self' data:;object-src 'none';script-src 'self';"
        b"script-src-attr 'none';style-src 'self' https: 'unsafe-inline';"
        b"upgrade-insecure-requests",
    ),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"origin-agent-cluster", b"?1"),
    (b"referrer-policy", b"no-referrer"),
    (b"strict-transport-security", b"max-age=31536000; includeSubDomains"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-dns-prefetch-control", b"off"),
    (b"x-download-options", b"noopen"),
    (b"x-frame-options", b"SAMEORIGIN"),
    (b"x-permitted-cross-domain-policies", b"none"),
    (b"x-xss-protection", b"0"),
]
# FastAPI's /docs page loads Swagger UI from a CDN with an inline script.
DOCS_CSP = (
    b"default-src 'self';img-src 'self' data: https://fastapi.tiangolo.com;"
    b"script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net;"
    b"style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net;frame-ancestors 'self'"
)
DOCS_PATHS = ("/docs", "/redoc")
CORS_METHODS = ("GET", "POST")
CORS_HEADERS = ("Authorization", "Content-Type", "DPoP")
CORS_MAX_AGE = 600  # seconds a browser may reuse a preflight's answer
# What Starlette's CORSMiddleware adds to an answer to a request without `Origin`: caches
# must not serve it to a cross-origin request, which would get CORS headers.
VARY_ORIGIN = (b"vary", b"Origin")


class ApiEdge:
    """The API's one middleware: header cap, CORS, security headers and the access line.

    One pure ASGI layer for all four, not four: each layer wraps `send` once more per
    request, and these run on every request of a benchmarked API.  In order:
    - a head over 16 KB is answered 431 (api/header_limit.py) before anything reads a
      header; the 431 carries the security headers and is logged, like every answer;
    - a request with an `Origin` header goes through Starlette's `CORSMiddleware`, which
      owns every CORS decision (preflights, allowed origins); one without gets what that
      middleware gives it, `Vary: Origin`, without its machinery;
    - helmet's headers are added to every answer, and one line is logged per request,
      formatted only when `api.access` logs at INFO.
    """

    def __init__(self, app: ASGIApp, *, allow_origins: Sequence[str]) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=allow_origins,
            allow_methods=CORS_METHODS,
            allow_headers=CORS_HEADERS,
            max_age=CORS_MAX_AGE,
        )
        docs = [
            (name, DOCS_CSP if name == b"content-security-policy" else value)
            for name, value in SECURITY_HEADERS
        ]
        # Added to an answer, by (is it a docs page, does it get `Vary: Origin` from here).
        self._extra = {
            (False, True): [VARY_ORIGIN, *SECURITY_HEADERS],
            (False, False): SECURITY_HEADERS,
            (True, True): [VARY_ORIGIN, *docs],
            (True, False): docs,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        head = request_line_bytes(scope.get("raw_path"), scope["query_string"])
        cross_origin = False
        for name, value in scope["headers"]:  # one pass: the head's size and its Origin
            head += len(name) + len(value) + HEADER_LINE_OVERHEAD
            cross_origin = cross_origin or name == b"origin"
        too_large = head > MAX_HEADER_BYTES
        # Vary: Origin where Starlette's CORSMiddleware would add it: not on a 431, which
        # never reaches CORS, nor on a cross-origin request, which CORS itself answers.
        extra = self._extra[scope["path"] in DOCS_PATHS, not (too_large or cross_origin)]
        status = 500  # if the app raises before answering

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = _with_headers(message.get("headers", []), extra)
            await send(message)

        try:
            if too_large:
                await send_too_large(send_with_headers)
            else:
                await (self.cors if cross_origin else self.app)(scope, receive, send_with_headers)
        finally:
            if logger.isEnabledFor(logging.INFO):
                logger.info(
                    '"%s %s" %d %.1fms',
                    scope["method"],
                    scope["path"],
                    status,
                    (time.perf_counter() - started) * 1000,
                )


def _with_headers(
    headers: list[tuple[bytes, bytes]], extra: list[tuple[bytes, bytes]]
) -> list[tuple[bytes, bytes]]:
    """`headers` plus `extra`; a `Vary` already there is merged with `Vary: Origin` into
    one header, exactly as Starlette's CORSMiddleware merges them."""
    if extra[0] is VARY_ORIGIN and any(name.lower() == b"vary" for name, _ in headers):
        merged = MutableHeaders(raw=list(headers))
        merged["vary"] = ", ".join([*merged.getlist("vary"), "Origin"])
        return [*merged.raw, *extra[1:]]
    return [*headers, *extra]
