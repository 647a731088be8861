"""Which format an error response should take, from the request's Accept header."""

from __future__ import annotations

from starlette.datastructures import Headers


def wants_json(headers: Headers) -> bool:
    """True when the client asks for JSON and not HTML (fetch/XHR callers, not page loads)."""
    accept = headers.get("accept", "").lower()
    return "application/json" in accept and "text/html" not in accept
