"""Which headers cross the `/api/*` proxy, each way (app/proxy.py).

Hop-by-hop headers (RFC 9110 7.6.1, and any the sender lists in `Connection`) stay on their
hop.  The browser's cookies, `Authorization`, `DPoP`, `Expect`, `Forwarded` and
`X-Forwarded-*` never reach the API: the app sends its own view of the last three.  The
API's `Set-Cookie`, `Date` and `Server` never reach the browser, and a redirect into the
API is made app-relative.  Names are compared lower-case: ASGI's request headers are, and
so are the transport's response headers (app/upstream.py).
"""

from __future__ import annotations

from operator import itemgetter

import httpx
from starlette.types import Scope

from app.upstream import RawHeaders

PROXY_PREFIX = "/api/"
# Hop-by-hop headers (RFC 9110 7.6.1) plus those that must not cross the proxy either way.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
# `dpop`: proofs are the app's to sign (app/dpop.py); a browser's own would only break calls.
# X-CSRF-Token is the app's own (app/request_guard.py): the API never needs to see it.
REQUEST_DROP = HOP_BY_HOP | {
    b"host",
    b"cookie",
    b"authorization",
    b"dpop",
    b"expect",
    b"forwarded",
    b"x-csrf-token",
}
# Date and Server: uvicorn adds its own, and two of each confuse caches and scanners.
RESPONSE_DROP = HOP_BY_HOP | {b"set-cookie", b"date", b"server"}
FORWARDED_PREFIX = b"x-forwarded-"  # the browser's own are dropped: the app sends its view
# Redirects into the API are made app-relative: never show the browser its internal URL.
LOCATION_HEADERS = frozenset({b"location", b"content-location"})


def _connection_tokens(raw: RawHeaders) -> set[bytes]:
    """Header names the sender listed in `Connection`: hop-by-hop by declaration."""
    return {
        token.strip().lower()
        for name, value in raw
        if name == b"connection"
        for token in value.split(b",")
        if token.strip()
    }


# A default header as `outgoing_headers` wants it: its lower-case name, then the pair as sent.
DefaultHeader = tuple[bytes, tuple[bytes, bytes]]


def default_headers(raw: RawHeaders) -> list[DefaultHeader]:
    """The client's default headers keyed by lower-case name, computed once per client."""
    return [(name.lower(), (name, value)) for name, value in raw]


def outgoing_headers(scope: Scope, url: httpx.URL, defaults: list[DefaultHeader]) -> RawHeaders:
    """The browser's headers for the API, in the order httpx would send them: Host, the
    client's `defaults` (see `default_headers`) the browser did not send, then its own
    (filtered), then the app's view of `X-Forwarded-*`.

    One pass over scope["headers"] as the server gave them (lower-case names), not an
    httpx.Headers copy: this runs on every proxied call.
    """
    kept: RawHeaders = []
    host = b""
    listed = False
    for name, value in scope["headers"]:
        if name in REQUEST_DROP or name.startswith(FORWARDED_PREFIX):
            if name == b"host" and not host:  # the first, as the server reads it
                host = value
            listed = listed or name == b"connection"
            continue
        kept.append((name, value))
    if listed:
        dropped = _connection_tokens(scope["headers"])
        kept = [pair for pair in kept if pair[0] not in dropped]
    sent = {name for name, _ in kept}
    headers = [(b"Host", url.netloc), *(pair for name, pair in defaults if name not in sent), *kept]
    if client := scope.get("client"):
        headers.append((b"x-forwarded-for", client[0].encode("latin-1")))
    headers.append((b"x-forwarded-proto", scope["scheme"].encode("latin-1")))
    if host:
        headers.append((b"x-forwarded-host", host))
    return headers


def response_headers(raw: RawHeaders, api_base: str) -> RawHeaders:
    """The API's headers for the browser; a redirect to API_BASE_URL/api/x becomes /api/x."""
    names = set(map(itemgetter(0), raw))  # searched in C: this runs on every answer
    dropped = RESPONSE_DROP | _connection_tokens(raw) if b"connection" in names else RESPONSE_DROP
    if LOCATION_HEADERS.isdisjoint(names):
        return [pair for pair in raw if pair[0] not in dropped]
    internal = f"{api_base}{PROXY_PREFIX}".encode("latin-1")
    keep = len(internal) - len(PROXY_PREFIX)  # cut API_BASE_URL, keep /api/...
    return [
        (
            name,
            value[keep:] if name in LOCATION_HEADERS and value.startswith(internal) else value,
        )
        for name, value in raw
        if name not in dropped
    ]
