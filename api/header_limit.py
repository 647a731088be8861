"""The 16 KB cap on a request's line and headers, and the 431 that refuses a larger one.

uvicorn's httptools parser has no such limit (h11's `--h11-max-incomplete-event-size` does
not apply to it), so without this a 200 KB `Authorization` header would be read, split and
base64-decoded before being refused.  16 KB is Node's default `--max-http-header-size`: the
API refuses what the Express reference refuses (tests/api/test_conformance.py).  The check
runs in `api.middleware.ApiEdge`, before CORS and routing read any header.
"""

from __future__ import annotations

import json

from starlette.types import Send

MAX_HEADER_BYTES = 16 * 1024
TOO_LARGE_BODY = json.dumps(
    {
        "error": "request_header_fields_too_large",
        "error_description": "The request's headers are larger than 16 KB",
    }
).encode()
TOO_LARGE_HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(TOO_LARGE_BODY)).encode()),
    (b"connection", b"close"),
]
HEADER_LINE_OVERHEAD = 4  # ": " and CRLF around each `name: value`


def request_line_bytes(raw_path: bytes | None, query_string: bytes) -> int:
    """What the request line adds to the head's size (its path and query)."""
    return len(raw_path or b"") + len(query_string)


async def send_too_large(send: Send) -> None:
    """Answer 431 and close: the head was larger than `MAX_HEADER_BYTES`."""
    await send({"type": "http.response.start", "status": 431, "headers": list(TOO_LARGE_HEADERS)})
    await send({"type": "http.response.body", "body": TOO_LARGE_BODY})
