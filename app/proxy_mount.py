"""`/api/*` straight to the proxy: pure ASGI middleware, innermost, in place of a route.

As a route the proxy sat behind Starlette's ExceptionMiddleware, FastAPI's AsyncExitStack
middleware and the router: each wraps the call, and together they cost more than a sixth of
the app's CPU per proxied request (bench/README.md, "Where the time goes").  The proxy needs
none of them: it matches one prefix and has no dependencies.  Its errors (`ProxyError`,
`LoginRequired`, and `SessionStoreUnavailable` from a token refresh) are raised before its
answer starts, and are mapped here by the app's one mapping (app/exception_handlers.py),
looked up as Starlette does; any other error propagates to the edge's 500 page
(app/edge.py), as before.  A method the proxy does not relay (TRACE, CONNECT) goes
on to the router, which answers 405 there, as it did for the route.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from app.config import Settings
from app.deps import session_token_source
from app.exception_handlers import handler_for
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
        except Exception as exc:
            handler = handler_for(exc)
            if handler is None:
                raise  # a bug: the edge's 500 page (app/edge.py)
            response = await handler(Request(scope, receive), exc)
            await response(scope, receive, send)
