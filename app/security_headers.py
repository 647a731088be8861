"""The security headers every response carries, error pages included (sent by app/edge.py)."""

from __future__ import annotations

from urllib.parse import urlsplit

STATIC_PREFIX = "/static/"  # cacheable: everything else also gets `Cache-Control: no-store`
RawHeaders = list[tuple[bytes, bytes]]


def content_security_policy(issuer: str) -> str:
    """No inline script, no framing; forms may post to us and redirect to the tenant (logout)."""
    parts = urlsplit(issuer)
    tenant = f"{parts.scheme}://{parts.netloc}"
    return "; ".join(
        [
            "default-src 'self'",
            f"img-src 'self' data: https: {tenant}",  # Auth0 avatars; the dev tenant's own
            "script-src 'self'",
            "style-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            f"form-action 'self' {tenant}",
            "frame-ancestors 'none'",
        ]
    )


def security_headers(issuer: str) -> RawHeaders:
    """CSP, framing, sniffing, referrer and opener headers, as raw ASGI pairs (lower-case).

    A response that already has one of them keeps its own (app/edge.py).
    """
    headers = {
        "content-security-policy": content_security_policy(issuer),
        "x-frame-options": "DENY",
        "referrer-policy": "strict-origin-when-cross-origin",
        "x-content-type-options": "nosniff",
        "cross-origin-opener-policy": "same-origin",
    }
    return [(name.encode(), value.encode()) for name, value in headers.items()]
