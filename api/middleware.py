"""Pure ASGI middleware: helmet's default security headers and one log line per request.

Pure ASGI rather than BaseHTTPMiddleware because these run on every request and the
API's throughput is benchmarked against Express.  The log line names the path but never
the query string, which may carry an `access_token`.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


class SecurityHeadersAndAccessLog:
    """Adds the security headers to every response and logs one line per request.

    One layer for both, not two: each ASGI layer wraps `send` once more per request, and
    this one runs on every request of a benchmarked API.  The line is formatted only when
    `api.access` logs at INFO.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._docs_headers = [
            (name, DOCS_CSP if name == b"content-security-policy" else value)
            for name, value in SECURITY_HEADERS
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self._docs_headers if scope["path"] in DOCS_PATHS else SECURITY_HEADERS
        started = time.perf_counter()
        status = 500  # if the app raises before answering

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            if logger.isEnabledFor(logging.INFO):
                logger.info(
                    '"%s %s" %d %.1fms',
                    scope["method"],
                    scope["path"],
                    status,
                    (time.perf_counter() - started) * 1000,
                )
