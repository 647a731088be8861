"""`/api/*` straight to the proxy: pure ASGI middleware, innermost, in place of a route.

As a route the proxy sat behind Starlette's ExceptionMiddleware, FastAPI's AsyncExitStack
middleware and the router: each wraps the call, and together they cost more than a sixth of
the app's CPU per proxied request (bench/README.md, "Where the time goes").  The proxy needs
none of them: it matches one prefix, has no dependencies, and its errors (`ProxyError`,
`LoginRequired`) are all raised before its answer starts, so they are mapped here by the
app's one mapping (app/exception_handlers.py).  Any other error propagates to the edge's
500 page (app/edge.py) as before.  A method the proxy does not relay (TRACE, CONNECT) goes
on to the router, which answers 405 there, as it did for the route.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from app.config import Settings
from app.deps import session_token_source
from app.errors import LoginRequired, ProxyError
from app.exception_handlers import error_response
from app.proxy import PROXY_METHODS, PROXY_PREFIX, ProxyEndpoint, TokenSourceFor

RELAYED_METHODS = frozenset(PROXY_METHODS)


class ProxyMount:
    """Sends `/api/{path}` to the proxy endpoint for `settings.api_base_url` (app/proxy.py).

    Put inside the session and RequestGuard (the proxy reads the session; the guard checks
    an unsafe call's CSRF token first).  `token_source`: tests stand in for the session's
    token manager here.
    """

    def __init__(
        self,
        app: ASGIApp,
        settings: Settings,
        token_source: TokenSourceFor = session_token_source,
    ) -> None:
        self.app = app
        self.endpoint = ProxyEndpoint(settings, token_source)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if root_path := scope.get("root_path"):  # as the router matches: below the root path
            path = path.removeprefix(root_path)
        if (
            scope["type"] != "http"
            or not path.startswith(PROXY_PREFIX)
            or scope["method"] not in RELAYED_METHODS
        ):
            await self.app(scope, receive, send)
            return
        scope["path_params"] = {"path": path[len(PROXY_PREFIX) :]}
        try:
            await self.endpoint(scope, receive, send)
        except (ProxyError, LoginRequired) as exc:
            response = await error_response(Request(scope, receive), exc)
            await response(scope, receive, send)
