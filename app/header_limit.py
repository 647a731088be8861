"""The request-head cap: 431 for a request whose line and headers exceed 16 KB (app/edge.py).

uvicorn's httptools parser sets no limit of its own (h11's `--h11-max-incomplete-event-size`
does not apply to it), so without this the session middleware would parse any cookie header
and the proxy would forward any header to the API.  16 KB is Node's default
`--max-http-header-size`, what the Express samples' servers accept.
"""

from __future__ import annotations

from itertools import chain

from starlette.types import Scope

MAX_HEADER_BYTES = 16 * 1024
HEADER_LINE_OVERHEAD = 4  # ": " and CRLF


def head_size(scope: Scope) -> int:
    """Bytes of the request line and headers, about as they came on the wire."""
    raw = scope["headers"]
    # Names and values counted in C (map over the flattened pairs): this runs per request.
    headers = sum(map(len, chain.from_iterable(raw))) + HEADER_LINE_OVERHEAD * len(raw)
    return headers + len(scope.get("raw_path") or b"") + len(scope["query_string"])
