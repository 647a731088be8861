"""Pure ASGI middleware: 431 for a request whose line and headers exceed 16 KB.

uvicorn's httptools parser sets no limit of its own (h11's `--h11-max-incomplete-event-size`
does not apply to it), so without this the session middleware would parse any cookie header
and the proxy would forward any header to the API.  16 KB is Node's default
`--max-http-header-size`, what the Express samples' servers accept.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from app.exception_handlers import headers_too_large_response

MAX_HEADER_BYTES = 16 * 1024


def head_size(scope: Scope) -> int:
    """Bytes of the request line and headers, about as they came on the wire."""
    headers = sum(len(name) + len(value) + 4 for name, value in scope["headers"])
    return headers + len(scope.get("raw_path") or b"") + len(scope["query_string"])


class HeaderSizeLimitMiddleware:
    """Answers 431 to a request whose head is larger than `max_bytes`, before the session."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_HEADER_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and head_size(scope) > self.max_bytes:
            await headers_too_large_response(HTTPConnection(scope))(scope, receive, send)
            return
        await self.app(scope, receive, send)
