"""`/api/*` on the app goes to `API_BASE_URL/api/*`: Angular's proxy.conf.json, server-side.

The browser never holds a token: it calls the app, and the app's one shared client sends the
call on through the allow-list interceptor, which attaches the user's access token.  Bodies
stream both ways.  The browser's cookies and `Authorization` never reach the API, hop-by-hop
headers stay on their hop, and the API's `Set-Cookie` never reaches the browser (the API must
not set cookies on the app's origin).  Incoming `X-Forwarded-*` and `Forwarded` are replaced
with the app's own view, as they could be forged.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from urllib.parse import quote, unquote

import httpx
from fastapi import APIRouter, Request, Response
from starlette.background import BackgroundTask
from starlette.responses import StreamingResponse

from app.config import Settings
from app.deps import HttpDep, TokenSourceDep
from app.errors import (
    InvalidProxyPath,
    LoginRequired,
    ProxyBusy,
    SlowUpload,
    TokenUnavailable,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from app.proxy_limits import ProxySlots, Slot, UploadTooSlow, timed_body
from app.token_source import TokenSource, token_extensions

logger = logging.getLogger(__name__)

PROXY_PREFIX = "/api/"
PROXY_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
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
# Redirects into the API are made app-relative: never show the browser its internal URL.
LOCATION_HEADERS = frozenset({b"location", b"content-location"})
# Decode this many times when looking for `..`: a backend or a framework may decode again.
MAX_DECODE_ROUNDS = 3
# Characters left as they are when the checked path is encoded again for the API.
PATH_SAFE = "/:@!$&'()*+,;=-._~"
# Bodies up to this size (by Content-Length) are read whole and sent as one Response.
SMALL_BODY = 64 * 1024


def _is_unsafe(path: str) -> bool:
    segments = path.split("/")
    return (
        "\\" in path
        or any(ord(c) < 0x20 or ord(c) == 0x7F for c in path)
        or any(segment in (".", "..") for segment in segments)
        or "" in segments[:-1]  # `//` or a leading `/`; a trailing slash is fine
    )


def checked_path(path: str) -> str:
    """The decoded path after /api/, encoded for the API; InvalidProxyPath if it could escape."""
    probe = path
    for _ in range(MAX_DECODE_ROUNDS):
        if _is_unsafe(probe):
            raise InvalidProxyPath
        decoded = unquote(probe)
        if decoded == probe:
            break
        probe = decoded
    else:
        raise InvalidProxyPath  # encoded more deeply than any honest client does
    return quote(path, safe=PATH_SAFE)


def _connection_tokens(raw: list[tuple[bytes, bytes]]) -> set[bytes]:
    """Header names the sender listed in `Connection`: hop-by-hop by declaration."""
    return {
        token.strip().lower()
        for name, value in raw
        if name.lower() == b"connection"
        for token in value.split(b",")
        if token.strip()
    }


def _filtered(raw: list[tuple[bytes, bytes]], drop: frozenset[bytes]) -> list[tuple[bytes, bytes]]:
    dropped = drop | _connection_tokens(raw)
    return [(name, value) for name, value in raw if name.lower() not in dropped]


def _outgoing_headers(request: Request) -> list[tuple[bytes, bytes]]:
    # scope["headers"] as the server gave them, not an httpx.Headers copy: less work per call.
    headers = [
        (name, value)
        for name, value in _filtered(request.scope["headers"], REQUEST_DROP)
        if not name.lower().startswith(b"x-forwarded-")
    ]
    forwarded = {
        b"x-forwarded-for": request.client.host if request.client else "",
        b"x-forwarded-proto": request.url.scheme,
        b"x-forwarded-host": request.headers.get("host", ""),
    }
    headers += [(k, v.encode("latin-1")) for k, v in forwarded.items() if v]
    return headers


def _request_body(request: Request, settings: Settings) -> AsyncIterator[bytes] | None:
    """The body as a timed stream, or None when the browser sent none (no chunked empty body)."""
    has_body = "content-length" in request.headers or "transfer-encoding" in request.headers
    if not has_body:
        return None
    return timed_body(
        request.stream(),
        idle_timeout=settings.proxy_body_idle_timeout,
        total_timeout=settings.proxy_body_timeout,
    )


def _response_headers(upstream: httpx.Response, api_base: str) -> list[tuple[bytes, bytes]]:
    """The API's headers for the browser; a redirect to API_BASE_URL/api/x becomes /api/x."""
    internal = f"{api_base}{PROXY_PREFIX}".encode("latin-1")
    keep = len(internal) - len(PROXY_PREFIX)  # cut API_BASE_URL, keep /api/...
    return [
        (
            name,
            value[keep:]
            if name.lower() in LOCATION_HEADERS and value.startswith(internal)
            else value,
        )
        for name, value in _filtered(upstream.headers.raw, RESPONSE_DROP)
    ]


async def _relay(upstream: httpx.Response, slot: Slot) -> AsyncIterator[bytes]:
    """The API's body as it came (still compressed, if it was), closing it however it ends.

    A failure half-way is not caught: the status is already sent, and letting it raise makes
    the server abort the connection, so the browser sees a broken download, not a short one.
    """
    try:
        async for chunk in upstream.aiter_raw():
            yield chunk
    finally:
        await upstream.aclose()
        slot.release()


def _is_small(upstream: httpx.Response) -> bool:
    """Whether the API declared a body of at most SMALL_BODY bytes (JSON answers are)."""
    length = upstream.headers.get("content-length", "")
    return length.isdigit() and int(length) <= SMALL_BODY


async def _send(client: httpx.AsyncClient, outgoing: httpx.Request) -> httpx.Response:
    """Send through the interceptor, turning transport and token failures into ProxyErrors."""
    try:
        return await client.send(outgoing, stream=True)
    except UploadTooSlow as exc:
        raise SlowUpload from exc
    except TokenUnavailable as exc:
        if exc.error == "token_endpoint_unavailable":
            raise UpstreamUnavailable from exc
        raise LoginRequired from exc
    except httpx.TimeoutException as exc:
        logger.warning("API timed out: %s %s", outgoing.method, outgoing.url.path)
        raise UpstreamTimeout from exc
    except httpx.TransportError as exc:
        logger.warning("API unreachable: %s %s (%s)", outgoing.method, outgoing.url.path, exc)
        raise UpstreamUnavailable from exc


def create_proxy_router(settings: Settings) -> APIRouter:
    """The `/api/{path}` router for `settings.api_base_url`.

    Each call goes out on the shared client (`HttpDep`) with the session's `TokenSourceDep`,
    from which the interceptor takes the token an allow-list entry asks for.  Its errors
    (`ProxyError`s, `LoginRequired`) become JSON in app/exception_handlers.py.  Concurrent
    calls are capped per user and overall (app/proxy_limits.py): ProxyBusy past a cap.
    """
    router = APIRouter()
    api_base = settings.api_base_url
    slots = ProxySlots(
        total=settings.proxy_max_concurrent,
        per_user=settings.proxy_max_concurrent_per_user,
        anonymous=settings.proxy_max_concurrent_anonymous,
    )

    @router.api_route("/api/{path:path}", methods=PROXY_METHODS, include_in_schema=False)
    async def proxy(
        request: Request, path: str, client: HttpDep, tokens: TokenSourceDep
    ) -> Response:
        url = f"{api_base}{PROXY_PREFIX}{checked_path(path)}"
        query = request.scope.get("query_string", b"")
        if query:  # one URL parse (in build_request), not two
            url = f"{url}?{query.decode('latin-1')}"
        slot = slots.acquire(_user_key(request))
        if slot is None:
            raise ProxyBusy
        try:
            upstream = await _forward(request, url, settings, client, tokens)
        except BaseException:
            slot.release()
            raise
        if _is_small(upstream):
            return await _read_whole(upstream, slot, api_base)
        return _relayed(upstream, slot, api_base)

    return router


def _user_key(request: Request) -> str | None:
    """The logged-in user's id, whom the per-user cap counts; None when anonymous."""
    user = request.scope.get("session", {}).get("user")
    return str(user["sub"]) if isinstance(user, dict) and user.get("sub") else None


async def _forward(
    request: Request,
    url: str,
    settings: Settings,
    client: httpx.AsyncClient,
    tokens: TokenSource,
) -> httpx.Response:
    outgoing = client.build_request(
        request.method,
        url,
        headers=_outgoing_headers(request),
        content=_request_body(request, settings),
        extensions=token_extensions(tokens),
    )
    return await _send(client, outgoing)


async def _read_whole(upstream: httpx.Response, slot: Slot, api_base: str) -> Response:
    """A small answer read at once: a plain Response costs less than a stream's task group.

    The body is relayed as it came (still compressed, if it was); the slot is given back
    once it is read, whatever happens.
    """
    try:
        body = b"".join([chunk async for chunk in upstream.aiter_raw()])
    finally:
        await upstream.aclose()
        slot.release()
    response = Response(body, status_code=upstream.status_code)
    response.raw_headers = _response_headers(upstream, api_base)
    return response


def _relayed(upstream: httpx.Response, slot: Slot, api_base: str) -> Response:
    """The streamed response; its slot is given back once the body is relayed or dropped."""

    async def finish() -> None:  # if the body is never iterated
        await upstream.aclose()
        slot.release()

    response = StreamingResponse(
        _relay(upstream, slot), status_code=upstream.status_code, background=BackgroundTask(finish)
    )
    response.raw_headers = _response_headers(upstream, api_base)
    return response
