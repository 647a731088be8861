"""`/api/*` on the app goes to `API_BASE_URL/api/*`: Angular's proxy.conf.json, server-side.

The browser never holds a token: it calls the app, and the app's one shared client sends the
call on through the allow-list interceptor, which attaches the user's access token.  Bodies
stream both ways.  The browser's cookies and `Authorization` never reach the API, hop-by-hop
headers stay on their hop, and the API's `Set-Cookie` never reaches the browser (the API must
not set cookies on the app's origin).  Incoming `X-Forwarded-*` and `Forwarded` are replaced
with the app's own view, as they could be forged (which headers cross: app/proxy_headers.py).

It is a plain ASGI endpoint, not a FastAPI route, and it sends through the shared client's
API transport without httpx's request and response models: on the app's busiest path those
cost more than the rest of the call (bench/README.md, "Where the time goes").
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable
from functools import lru_cache
from operator import itemgetter
from urllib.parse import quote, unquote

import httpx
from starlette.requests import ClientDisconnect, HTTPConnection
from starlette.types import Receive, Scope, Send

from app.config import Settings
from app.deps import shared_client
from app.errors import (
    InvalidProxyPath,
    LoginRequired,
    ProxyBusy,
    ProxyError,
    SlowUpload,
    TokenUnavailable,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from app.http import SharedClient
from app.interceptor import AllowedEntry, AllowListAuth
from app.proxy_headers import PROXY_PREFIX as PROXY_PREFIX  # what routes to the proxy
from app.proxy_headers import outgoing_headers, response_headers
from app.proxy_limits import ProxySlots, UploadTooSlow, timed_body
from app.token_source import TokenSource
from app.upstream import UpstreamResponse

logger = logging.getLogger(__name__)

PROXY_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
# Decode this many times when looking for `..`: a backend or a framework may decode again.
MAX_DECODE_ROUNDS = 3
# A backslash or a control character (C0 or DEL) anywhere in the path refuses it.
_CONTROL_OR_BACKSLASH = re.compile(r"[\x00-\x1f\x7f\\]")
# Characters left as they are when the checked path is encoded again for the API.
PATH_SAFE = "/:@!$&'()*+,;=-._~"
# Bodies up to this size (by Content-Length) are read whole and sent as one message.
SMALL_BODY = 64 * 1024
# httpx adds these when a request has no Content-Length; the API sees the same here.
CHUNKED = (b"Transfer-Encoding", b"chunked")
EMPTY_BODY = (b"Content-Length", b"0")
METHODS_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})
BODY_HEADERS = frozenset({b"content-length", b"transfer-encoding"})  # the browser sent a body
URL_CACHE_SIZE = 256  # API calls kept (paths without a query, see cached_api_call)
URL_CACHE_MAX_LENGTH = 512  # characters of path: longer ones are parsed each time, never kept
TokenSourceFor = Callable[[HTTPConnection], TokenSource]


def _is_unsafe(path: str) -> bool:
    segments = path.split("/")
    return (
        _CONTROL_OR_BACKSLASH.search(path) is not None
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


def api_call(
    api_base: str, interceptor: AllowListAuth, method: str, path: str, query: bytes
) -> tuple[httpx.URL, AllowedEntry | None]:
    """The API's URL for `path` (after /api/) and `query`, and the allow-list entry that
    names it (None: no token goes with it); InvalidProxyPath if the path could escape."""
    if not query and len(path) <= URL_CACHE_MAX_LENGTH:
        return cached_api_call(api_base, interceptor, method, path)
    return _api_call(api_base, interceptor, method, path, query)


def _api_call(
    api_base: str, interceptor: AllowListAuth, method: str, path: str, query: bytes = b""
) -> tuple[httpx.URL, AllowedEntry | None]:
    target = f"{api_base}{PROXY_PREFIX}{checked_path(path)}"
    url = httpx.URL(f"{target}?{query.decode('latin-1')}" if query else target)
    return url, interceptor.entry_for(method, url)


# `api_call` of a call without a query, kept: a page calls the same few again and again, and
# checking, parsing and matching its URL is a sixth of the proxy's CPU.  Never with a query,
# which may hold a secret that should not outlive its request.  The allow-list is fixed for
# the interceptor's life, so the entry it names is too.
cached_api_call = lru_cache(maxsize=URL_CACHE_SIZE)(_api_call)


async def _received(receive: Receive) -> AsyncIterator[bytes]:
    """The request body as the server hands it over; ClientDisconnect if the browser left."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        if chunk := message.get("body", b""):
            yield chunk
        if not message.get("more_body", False):
            return


def _is_small(upstream: UpstreamResponse) -> bool:
    """Whether the API declared a body of at most SMALL_BODY bytes (JSON answers are)."""
    length = next((v for n, v in upstream.headers if n == b"content-length"), b"")
    return length.isdigit() and int(length) <= SMALL_BODY


# What _proxy_error maps; anything else is raised as it is.
MAPPED_ERRORS = (UploadTooSlow, TokenUnavailable, httpx.TransportError)


def _proxy_error(
    exc: UploadTooSlow | TokenUnavailable | httpx.TransportError, method: str, url: httpx.URL
) -> ProxyError | LoginRequired:
    """A transport, upload or token failure as the error the app maps to an answer.

    A function rather than a context manager: on every call's path, and a `with` block
    costs a generator where a `try` costs nothing until something fails.
    """
    if isinstance(exc, UploadTooSlow):
        return SlowUpload()
    if isinstance(exc, TokenUnavailable):
        return (
            UpstreamUnavailable() if exc.error == "token_endpoint_unavailable" else LoginRequired()
        )
    if isinstance(exc, httpx.TimeoutException):
        logger.warning("API timed out: %s %s", method, url.path)
        return UpstreamTimeout()
    logger.warning("API unreachable: %s %s (%s)", method, url.path, exc)
    return UpstreamUnavailable()


class ProxyEndpoint:
    """The plain ASGI endpoint of `/api/{path}`, mounted by app/proxy_mount.py.

    Not a FastAPI route: on the app's busiest path, FastAPI's request objects and
    dependency resolution cost more than the rest of the endpoint (bench/README.md).
    Each call goes out on the shared client's API pool (app/http.py) with the token
    source's token, which the interceptor takes when an allow-list entry asks for it.
    Concurrent calls are capped per user and overall (app/proxy_limits.py): ProxyBusy past a
    cap.  Its errors (`ProxyError`s, `LoginRequired`) are raised before the answer starts:
    the mount maps them (app/exception_handlers.py).
    """

    def __init__(self, settings: Settings, token_source: TokenSourceFor) -> None:
        self.settings = settings
        self.api_base = settings.api_base_url
        self.token_source = token_source
        self.slots = ProxySlots(
            total=settings.proxy_max_concurrent,
            per_user=settings.proxy_max_concurrent_per_user,
            anonymous=settings.proxy_max_concurrent_anonymous,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = shared_client(scope)
        path, query = scope["path_params"]["path"], scope.get("query_string", b"")
        url, entry = api_call(self.api_base, client.interceptor, scope["method"], path, query)
        slot = self.slots.acquire(_user_key(scope))
        if slot is None:
            raise ProxyBusy
        try:
            try:
                upstream = await self._forward(scope, receive, client, url, entry)
            except MAPPED_ERRORS as exc:
                raise _proxy_error(exc, scope["method"], url) from exc
            try:
                await self._relay(upstream, scope["method"], url, send)
            finally:
                await upstream.body.aclose()
        finally:
            slot.release()

    async def _forward(
        self,
        scope: Scope,
        receive: Receive,
        client: SharedClient,
        url: httpx.URL,
        entry: AllowedEntry | None,
    ) -> UpstreamResponse:
        """Send the call to the API with the token `entry` names; the answer's head."""
        method = scope["method"]
        headers = outgoing_headers(scope, url, client.api_defaults)
        body = self._request_body(scope, receive)
        if body is not None and not any(n == b"content-length" for n, _ in scope["headers"]):
            headers.append(CHUNKED)
        elif body is None and method in METHODS_WITH_BODY:
            headers.append(EMPTY_BODY)
        source = self.token_source(HTTPConnection(scope, receive))
        for name, value in await client.interceptor.credentials_for(entry, method, url, source):
            headers.append((name.encode("latin-1"), value.encode("latin-1")))
        return await client.api.exchange(method.encode("ascii"), url, headers, body, client.timeout)

    def _request_body(self, scope: Scope, receive: Receive) -> AsyncIterator[bytes] | None:
        """The body as a timed stream, or None when the browser sent none."""
        if BODY_HEADERS.isdisjoint(map(itemgetter(0), scope["headers"])):  # searched in C
            return None
        return timed_body(
            _received(receive),
            idle_timeout=self.settings.proxy_body_idle_timeout,
            total_timeout=self.settings.proxy_body_timeout,
        )

    async def _relay(
        self, upstream: UpstreamResponse, method: str, url: httpx.URL, send: Send
    ) -> None:
        """The API's answer to the browser, its body as it came (still compressed, if it was).

        A small body is read whole first, so a failure reading it is still an error answer.
        A failure half-way through a streamed one is not caught: the status is already
        sent, and letting it raise makes the server abort the connection, so the browser
        sees a broken download, not a short one.
        """
        start = {
            "type": "http.response.start",
            "status": upstream.status,
            "headers": response_headers(upstream.headers, self.api_base),
        }
        if _is_small(upstream):
            try:
                body = await upstream.body.read()
            except MAPPED_ERRORS as exc:
                raise _proxy_error(exc, method, url) from exc
            await send(start)
            await send({"type": "http.response.body", "body": body})
            return
        await send(start)
        async for chunk in upstream.body:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})


def _user_key(scope: Scope) -> str | None:
    """The logged-in user's id, whom the per-user cap counts; None when anonymous."""
    user = scope.get("session", {}).get("user")
    return str(user["sub"]) if isinstance(user, dict) and user.get("sub") else None
