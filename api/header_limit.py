"""Pure ASGI middleware: 431 for a request whose line and headers exceed 16 KB.

uvicorn's httptools parser has no such limit (h11's `--h11-max-incomplete-event-size` does
not apply to it), so without this a 200 KB `Authorization` header would be read, split and
base64-decoded before being refused.  16 KB is Node's default `--max-http-header-size`: the
API refuses what the Express reference refuses (tests/api/test_conformance.py).
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Receive, Scope, Send

MAX_HEADER_BYTES = 16 * 1024
TOO_LARGE_BODY = json.dumps(
    {
        "error": "request_header_fields_too_large",
        "error_description": "The request's headers are larger than 16 KB",
    }
).encode()


def header_bytes(scope: Scope) -> int:
    """The size of a request's head as sent: request line and `name: value` lines."""
    lines = sum(len(name) + len(value) + 4 for name, value in scope["headers"])
    return lines + len(scope.get("raw_path") or b"") + len(scope["query_string"])


class HeaderSizeLimitMiddleware:
    """Answers 431 to a request whose head is larger than `max_bytes`, before CORS and
    routing read any header."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_HEADER_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or header_bytes(scope) <= self.max_bytes:
            await self.app(scope, receive, send)
            return
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(TOO_LARGE_BODY)).encode()),
            (b"connection", b"close"),
        ]
        await send({"type": "http.response.start", "status": 431, "headers": headers})
        await send({"type": "http.response.body", "body": TOO_LARGE_BODY})
