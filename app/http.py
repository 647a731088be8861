"""The process's one outgoing HTTP client, made in the app's lifespan and shared by all users.

Every request it sends passes the allow-list interceptor, so a token only ever goes where
the allow-list says; the user's token source travels with each request (see
app/token_source.py), not with the client.

One client, two connection pools: calls to API_BASE_URL (the /api/* proxy, which browsers
drive) get a transport of their own (app/upstream.py), mounted on the API's origin, and
everything else (login, token refresh, the Management API: the tenant) keeps the default
one.  However many proxied calls hang, they hold only API connections: login and refresh
never wait.
A pool per upstream rather than a semaphore in front of one pool, because a semaphore
still lets the proxy take every connection of the shared pool up to its count.
"""

from __future__ import annotations

from http.cookiejar import Cookie, CookieJar, CookiePolicy
from typing import Any
from urllib.request import Request

import httpx

from app.config import Settings
from app.dpop import DpopKey
from app.interceptor import AllowListAuth, default_allowed_list
from app.proxy_headers import default_headers
from app.upstream import UpstreamTransport

CONNECT_TIMEOUT = 3.0  # seconds to open a connection; a backend that slow is down
READ_TIMEOUT = 10.0  # seconds between two chunks of a response before giving up
WRITE_TIMEOUT = 10.0  # seconds between two chunks of a request body
POOL_TIMEOUT = 3.0  # seconds to wait for a free connection from the pool
MAX_CONNECTIONS = 100  # concurrent connections across all hosts
MAX_KEEPALIVE_CONNECTIONS = 20  # idle connections kept open for reuse
# Seconds an idle connection is kept.  Below uvicorn's keep-alive timeout (5 s) on
# purpose: with equal values the API may close a connection just as we reuse it.
KEEPALIVE_EXPIRY = 3.0

DEFAULT_TIMEOUT = httpx.Timeout(
    connect=CONNECT_TIMEOUT, read=READ_TIMEOUT, write=WRITE_TIMEOUT, pool=POOL_TIMEOUT
)
# The same limits for each pool; the proxy caps its own calls below them (app/proxy_limits.py).
DEFAULT_LIMITS = httpx.Limits(
    max_connections=MAX_CONNECTIONS,
    max_keepalive_connections=MAX_KEEPALIVE_CONNECTIONS,
    keepalive_expiry=KEEPALIVE_EXPIRY,
)


class NoCookies(CookiePolicy):
    """Refuses every cookie: the client is shared by all users, so a jar would leak between them."""

    netscape = True
    rfc2965 = False
    hide_cookie2 = True

    def set_ok(self, cookie: Cookie, request: Request) -> bool:
        return False

    def return_ok(self, cookie: Cookie, request: Request) -> bool:
        return False

    def domain_return_ok(self, domain: str, request: Request) -> bool:
        return False

    def path_return_ok(self, path: str, request: Request) -> bool:
        return False


class NoCookieJar(CookieJar):
    """A jar that is never read or filled.

    NoCookies alone refuses every cookie, but the jar would still parse each response's
    headers into an email message to find none; this skips that work on every API call.
    """

    def __init__(self) -> None:
        super().__init__(policy=NoCookies())

    def extract_cookies(self, response: Any, request: Request) -> None:
        return None

    def add_cookie_header(self, request: Request) -> None:
        return None


class SharedClient(httpx.AsyncClient):
    """httpx's client, naming the API's own pool and its interceptor for the proxy.

    The proxy sends to the API through `api` (app/upstream.py) without httpx's request and
    response models, and asks `interceptor` for the token (app/proxy.py): the same pool, the
    same allow-list, the same timeouts, all owned, configured and closed by this client.
    """

    def __init__(self, *, api: UpstreamTransport, interceptor: AllowListAuth, **kwargs: Any):
        super().__init__(auth=interceptor, **kwargs)
        self.api = api
        self.interceptor = interceptor
        # The default headers as the proxy adds them to each call, read once (httpx's
        # `headers.raw` builds a new list on every read, and names are compared lower-case).
        self.api_defaults = default_headers(self.headers.raw)


def create_http_client(
    settings: Settings,
    *,
    dpop: DpopKey | None = None,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    limits: httpx.Limits = DEFAULT_LIMITS,
) -> SharedClient:
    """The shared client; InvalidAllowList (one sentence) if the allow-list is bad.

    Redirects are not followed: the proxy hands them to the browser as they are, and the
    interceptor never has to decide whether a redirect target deserves the token.  Cookies
    are never stored: one user's API cookie must not ride along on another user's call.
    With `dpop`, DPoP-bound tokens go out with a fresh proof signed by it.
    """
    interceptor = AllowListAuth(default_allowed_list(settings), dpop=dpop)
    api = api_transport(limits)
    return SharedClient(
        api=api,
        interceptor=interceptor,
        timeout=timeout,
        limits=limits,
        mounts={api_origin(settings.api_base_url): api},
        follow_redirects=False,
        cookies=NoCookieJar(),
    )


def api_origin(api_base_url: str) -> str:
    """The mount pattern for the API's own pool: `scheme://host:port`, port made explicit."""
    url = httpx.URL(api_base_url)
    port = url.port or (443 if url.scheme == "https" else 80)
    host = f"[{url.host}]" if ":" in url.host else url.host  # an IPv6 literal
    return f"{url.scheme}://{host}:{port}"


def api_transport(limits: httpx.Limits = DEFAULT_LIMITS) -> UpstreamTransport:
    """The API's own pool (app/upstream.py): every proxied call goes through it.

    Idle connections are kept up to the connection limit, not the smaller keep-alive one:
    under load each request would otherwise open a new connection to the API.
    """
    assert limits.max_connections is not None
    return UpstreamTransport(
        max_connections=limits.max_connections,
        max_keepalive=limits.max_connections,
        keepalive_expiry=limits.keepalive_expiry or KEEPALIVE_EXPIRY,
    )
