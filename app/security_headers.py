"""Pure ASGI middleware: the security headers every response carries, error pages included."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATIC_PREFIX = "/static/"


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


class SecurityHeadersMiddleware:
    """Adds CSP, framing, sniffing and referrer headers, and `no-store` outside /static/.

    Headers a response already has are kept: a route may set its own `Cache-Control`.
    """

    def __init__(self, app: ASGIApp, issuer: str) -> None:
        self.app = app
        self.headers = {
            "Content-Security-Policy": content_security_policy(issuer),
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "strict-origin-when-cross-origin",
            "X-Content-Type-Options": "nosniff",
            "Cross-Origin-Opener-Policy": "same-origin",
        }
        # Encoded once: every response gets them, so no per-request encoding or scanning.
        self._raw = [(k.lower().encode(), v.encode()) for k, v in self.headers.items()]
        self._no_store = [*self._raw, (b"cache-control", b"no-store")]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        cacheable = scope["path"].startswith(STATIC_PREFIX)

        # Pages show personal data: keep them out of shared and history caches.
        extra = self._raw if cacheable else self._no_store

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                present = {name.lower() for name, _ in headers}
                # A new list: the response object may still hold the one it sent.
                message["headers"] = [*headers, *(h for h in extra if h[0] not in present)]
            await send(message)

        await self.app(scope, receive, send_with_headers)
