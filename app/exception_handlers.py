"""Every error of `app/errors.py` mapped to its response, in this one place.

Pages get the error page (`templates/error.html`) or a redirect; scripts (under `/api/`, or
asking for JSON and not HTML) get `{"error", "error_description"}`.  Three paths lead here:
route errors through `register_exception_handlers`, the session store's failure through
`session_store_unavailable_response` (called by the session middleware, which runs outside
the route handlers), oversized request heads through `headers_too_large_response` (called by
app/edge.py), and bugs through `unexpected_error` (also called by app/edge.py).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request

from app.errors import (
    AuthFlowError,
    CsrfError,
    InvalidLogoutToken,
    InvalidProxyPath,
    IssuerUnavailable,
    LoginRequired,
    ProxyBusy,
    ProxyError,
    RequestTimeout,
    RequestTooLarge,
    SessionStoreUnavailable,
    SlowUpload,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from app.proxy import PROXY_PREFIX
from app.templating import render_error

log = logging.getLogger("app.errors")

RETRY_AFTER_SECONDS = 5
PROXY_RETRY_AFTER_SECONDS = 1  # a busy proxy frees slots as fast as the API answers
NO_STORE = {"Cache-Control": "no-store"}
# (status, error, error_description) of each proxy error; ProxyError itself for any other.
PROXY_ERRORS: dict[type[ProxyError], tuple[int, str, str]] = {
    InvalidProxyPath: (400, "invalid_path", "The API path is not allowed."),
    SlowUpload: (408, "request_timeout", "The request body arrived too slowly."),
    ProxyBusy: (503, "proxy_busy", "Too many API calls at once; retry shortly."),
    UpstreamUnavailable: (502, "bad_gateway", "The API is unavailable; try again shortly."),
    UpstreamTimeout: (
        504,
        "gateway_timeout",
        "The API took too long to answer; try again shortly.",
    ),
    ProxyError: (500, "proxy_error", "The API call failed."),
}
# Static on purpose: the store is down, so nothing that may touch the session is rendered.
UNAVAILABLE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Temporarily unavailable</title></head>
<body><h1>Temporarily unavailable</h1>
<p>We cannot reach the session store right now. Please try again in a few seconds.</p>
</body></html>
"""


# Static too: it is answered before the session (whose cookie may be what is too large).
HEADERS_TOO_LARGE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Request headers too large</title></head>
<body><h1>Request headers too large</h1>
<p>Your browser sent more than 16 KB of headers, usually too many or too large cookies for
this site. Clear this site's cookies, then reload.</p>
</body></html>
"""


def wants_json(headers: Headers) -> bool:
    """True when the client asks for JSON and not HTML (fetch/XHR callers, not page loads)."""
    accept = headers.get("accept", "").lower()
    return "application/json" in accept and "text/html" not in accept


def json_error(
    error: str, description: str, status_code: int, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"error": error, "error_description": description}
    return JSONResponse(body, status_code=status_code, headers={**NO_STORE, **(headers or {})})


def error_page(request: Request, code: str, status_code: int) -> Response:
    return render_error(request, code, status_code)


def session_store_unavailable_response(connection: HTTPConnection) -> Response:
    """The 503 every request gets while the session store is down (HTML unless JSON is asked)."""
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS), **NO_STORE}
    if wants_json(connection.headers):
        description = "The session store is unavailable; try again shortly."
        return json_error("session_store_unavailable", description, 503, headers)
    return HTMLResponse(UNAVAILABLE_PAGE, status_code=503, headers=headers)


def headers_too_large_response(connection: HTTPConnection) -> Response:
    """The 431 a request gets whose head is over the cap (HTML unless JSON is asked)."""
    headers = {"Connection": "close"}
    if wants_json(connection.headers):
        description = "The request's headers are larger than 16 KB."
        return json_error("request_header_fields_too_large", description, 431, headers)
    return HTMLResponse(HEADERS_TOO_LARGE_PAGE, status_code=431, headers={**NO_STORE, **headers})


async def session_store_unavailable(request: Request, exc: Exception) -> Response:
    return session_store_unavailable_response(request)


async def login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    if request.url.path.startswith(PROXY_PREFIX):  # scripts call the proxy: JSON for them
        return json_error("login_required", "Log in again to call the API.", 401)
    return RedirectResponse(f"/login?returnTo={quote(exc.return_to, safe='/')}", 303)


async def auth_flow_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AuthFlowError)
    # The code and the tenant's own error: never the query, which may hold the code.
    said = ": ".join(part for part in exc.tenant_error or () if part)
    log.warning("login flow failed: %s%s", exc.code, f" (the tenant said {said})" if said else "")
    return render_error(request, exc.code, exc.status_code, exc.tenant_error)


async def csrf_error(request: Request, exc: Exception) -> Response:
    if request.url.path.startswith(PROXY_PREFIX) or wants_json(request.headers):
        return json_error("csrf_failed", "Missing or invalid CSRF token.", 403)
    return error_page(request, "csrf_failed", 403)


async def request_too_large(request: Request, exc: Exception) -> Response:
    if wants_json(request.headers):
        return json_error("request_too_large", "The request body is too large.", 413)
    return error_page(request, "request_too_large", 413)


async def request_timeout(request: Request, exc: Exception) -> Response:
    if wants_json(request.headers):
        return json_error("request_timeout", "The request body arrived too slowly.", 408)
    return error_page(request, "request_timeout", 408)


async def invalid_logout_token(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InvalidLogoutToken)
    # Back-Channel Logout 1.0 section 2.8: an OAuth-style JSON error; never the token.
    log.warning("back-channel logout refused: %s", exc.description)
    return json_error("invalid_request", exc.description, exc.status_code)


async def issuer_unavailable(request: Request, exc: Exception) -> Response:
    return json_error("temporarily_unavailable", str(exc), 503)


async def proxy_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProxyError)
    status_code, error, description = PROXY_ERRORS.get(type(exc), PROXY_ERRORS[ProxyError])
    retry = {"Retry-After": str(PROXY_RETRY_AFTER_SECONDS)} if isinstance(exc, ProxyBusy) else {}
    return json_error(error, description, status_code, retry)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = "not_found" if exc.status_code == 404 else "unknown"
    response = error_page(request, code, exc.status_code)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def unexpected_error(request: Request, exc: Exception) -> Response:
    log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path)
    return error_page(request, "unknown", 500)


ExceptionHandler = Callable[[Request, Exception], Awaitable[Response]]
# The route errors' handlers.  Unexpected errors are app/edge.py's (see there).
EXCEPTION_HANDLERS: dict[type[Exception], ExceptionHandler] = {
    LoginRequired: login_required,
    AuthFlowError: auth_flow_error,
    CsrfError: csrf_error,
    RequestTooLarge: request_too_large,
    RequestTimeout: request_timeout,
    SessionStoreUnavailable: session_store_unavailable,
    InvalidLogoutToken: invalid_logout_token,
    IssuerUnavailable: issuer_unavailable,
    ProxyError: proxy_error,
    HTTPException: http_error,
}


def handler_for(exc: Exception) -> ExceptionHandler | None:
    """The handler of `exc`'s class or nearest mapped base class, as Starlette looks it up."""
    return next((EXCEPTION_HANDLERS[c] for c in type(exc).__mro__ if c in EXCEPTION_HANDLERS), None)


async def error_response(request: Request, exc: Exception) -> Response:
    """The answer to a mapped error raised outside the routes (by middleware, the proxy)."""
    handler = handler_for(exc)
    assert handler is not None, f"{type(exc).__name__} is not mapped"
    return await handler(request, exc)


def register_exception_handlers(app: FastAPI) -> None:
    for exc_class, handler in EXCEPTION_HANDLERS.items():
        app.add_exception_handler(exc_class, handler)
