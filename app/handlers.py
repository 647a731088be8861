"""Every error the app can raise, mapped to a response in this one place."""

from __future__ import annotations

import logging
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException

from app.auth_errors import AuthFlowError, LoginRequired
from app.errors import CsrfError, SessionStoreUnavailable
from app.proxy import PROXY_EXCEPTION_HANDLERS
from app.session_middleware import session_store_unavailable_handler
from app.templating import error_text, render

log = logging.getLogger("app.errors")


def error_response(request: Request, code: str, status_code: int) -> Response:
    known, title, advice = error_text(code)
    context = {"code": known, "title": title, "advice": advice}
    return render(request, "error.html", context, status_code=status_code)


async def login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    return RedirectResponse(f"/login?returnTo={quote(exc.return_to, safe='/')}", 303)


async def auth_flow_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AuthFlowError)
    # The code only: never the tenant's description or the query, which may hold the code.
    log.warning("login flow failed: %s", exc.code)
    return error_response(request, exc.code, exc.status_code)


async def csrf_error(request: Request, exc: Exception) -> Response:
    return error_response(request, "csrf_failed", 403)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = "not_found" if exc.status_code == 404 else "unknown"
    response = error_response(request, code, exc.status_code)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def unexpected_error(request: Request, exc: Exception) -> Response:
    log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path)
    return error_response(request, "unknown", 500)


def register_exception_handlers(app: FastAPI) -> None:
    app.add_exception_handler(LoginRequired, login_required)
    app.add_exception_handler(AuthFlowError, auth_flow_error)
    app.add_exception_handler(CsrfError, csrf_error)
    app.add_exception_handler(SessionStoreUnavailable, session_store_unavailable_handler)
    app.add_exception_handler(HTTPException, http_error)
    for exc_class, handler in PROXY_EXCEPTION_HANDLERS.items():
        app.add_exception_handler(exc_class, handler)
    app.add_exception_handler(Exception, unexpected_error)
