"""The app's edge, one pure ASGI middleware: access log, security headers, header cap, 500 page.

Four concerns of every request that all sit outside the session, merged into one layer
because each pure ASGI layer wraps `send` once more on every request, the proxied ones
included (bench/README.md, "Where the time goes").  In the order a request meets them:

- the access line (`app.access`): method, path, status, duration, never the query string
  (/callback carries the authorization code and state there);
- the 16 KB head cap (app/header_limit.py): 431 before the session middleware parses a cookie;
- the 500 page (app/exception_handlers.py `unexpected_error`) for an exception nothing else
  handled, sent through this layer so it carries the security headers and is logged.
  Starlette runs an `Exception` handler in its ServerErrorMiddleware, outside every user
  middleware, where the page would miss both.  The exception is raised again afterwards so
  the server still logs its traceback; once a response has started nothing can replace it,
  and the server then aborts the connection, so a broken download never looks complete;
- the security headers on every answer (app/security_headers.py), error pages included.
"""

from __future__ import annotations

import logging
import time
from operator import itemgetter
from typing import NamedTuple

from starlette.requests import HTTPConnection, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.exception_handlers import headers_too_large_response, unexpected_error
from app.header_limit import MAX_HEADER_BYTES, head_size
from app.security_headers import STATIC_PREFIX, RawHeaders, security_headers

log = logging.getLogger("app.access")
ACCESS_LINE = "%s %s %d %.1fms"
NO_STORE = (b"cache-control", b"no-store")


class AppEdge:
    """See the module doc.  `max_header_bytes`: the head cap (431 beyond)."""

    def __init__(self, app: ASGIApp, issuer: str, max_header_bytes: int = MAX_HEADER_BYTES):
        self.app = app
        self.max_header_bytes = max_header_bytes
        # Encoded once: every response gets them, so no per-request encoding.
        self._static = Defaults.of(security_headers(issuer))
        # Pages show personal data: keep them out of shared and history caches.
        self._no_store = Defaults.of([*self._static.headers, NO_STORE])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 0  # no answer started yet (500 in the log if the app raises before one)
        extra = self._static if scope["path"].startswith(STATIC_PREFIX) else self._no_store

        async def send_at_edge(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = _with_defaults(message.get("headers", []), extra)
            await send(message)

        try:
            if head_size(scope) > self.max_header_bytes:
                too_large = headers_too_large_response(HTTPConnection(scope))
                await too_large(scope, receive, send_at_edge)
                return
            await self.app(scope, receive, send_at_edge)
        except Exception as exc:
            if status:
                raise
            page = await unexpected_error(Request(scope, receive), exc)
            await page(scope, receive, send_at_edge)
            raise
        finally:
            elapsed_ms = (time.perf_counter() - start) * 1000
            log.info(ACCESS_LINE, scope["method"], scope["path"], status or 500, elapsed_ms)


class Defaults(NamedTuple):
    """Headers every answer gets unless it has its own, and their names."""

    headers: RawHeaders
    names: frozenset[bytes]

    @classmethod
    def of(cls, headers: RawHeaders) -> Defaults:
        return cls(headers, frozenset(map(_first, headers)))


def _with_defaults(headers: RawHeaders, defaults: Defaults) -> RawHeaders:
    """`headers` plus each of `defaults` they lack (a route may set its own Cache-Control).

    A new list: the response object may still hold the one it sent.  Names are compared as
    they are: Starlette's responses and the proxy's (app/upstream_connection.py) send them
    lower-case.  Which defaults are present is found in C (a set intersection over the
    names), and usually none is.
    """
    present = defaults.names.intersection(map(_first, headers))
    if not present:
        return headers + defaults.headers
    return [*headers, *(pair for pair in defaults.headers if pair[0] not in present)]


_first = itemgetter(0)
