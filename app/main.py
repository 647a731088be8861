"""The frontend application: `create_app()` and the lazily built module-level `app`.

`uvicorn app.main:app` imports `app` through the module `__getattr__`, so tests import
`create_app` without a `.env`, and bad settings stop start-up with one sentence.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.telemetry import TelemetryConfig

from app import auth, backchannel, pages
from app.config import Settings, get_settings
from app.dpop import DpopKey
from app.edge import AppEdge
from app.errors import SettingsError
from app.exception_handlers import register_exception_handlers
from app.http import create_http_client
from app.interceptor import default_allowed_list
from app.logout_token import LogoutTokenVerifier
from app.oidc import create_oauth
from app.proxy_mount import ProxyMount
from app.refresh_once import RefreshCoordinator
from app.request_guard import RequestGuard
from app.session_middleware import ServerSessionMiddleware
from app.session_store import create_session_store
from app.templating import STATIC_DIR

QUIET_LOGGERS = ("httpx", "httpcore")
LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"
# FastAPI's native OpenTelemetry off, unless APP_TELEMETRY asks for it (app/config.py).
NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
log = logging.getLogger("app")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    # A bad ALLOWED_LIST stops start-up here (InvalidAllowList), not later in the lifespan.
    default_allowed_list(settings)
    # The session middleware is built before the lifespan runs, so the store is made here;
    # the lifespan closes it.
    store = create_session_store(settings)
    dpop = DpopKey.for_settings(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # What the app talks to, so a wrong .env shows in the first lines (never a secret).
        log.info(
            "web app: issuer %s, audience %s, session store %s",
            settings.issuer,
            settings.auth0_audience or "(none)",
            settings.session_store_kind,
        )
        async with create_http_client(settings, dpop=dpop) as http:
            app.state.http = http
            app.state.oauth = create_oauth(settings, http)
            try:
                yield
            finally:
                await store.aclose()

    # httpx logs every request's full URL at INFO, query string included (?api_key=...,
    # ?code=...): our access log says what happened without it.
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)

    app = FastAPI(
        title="Call an API - web app",
        lifespan=lifespan,
        # Starlette's /page/ -> /page redirect is absolute, built from the Host header:
        # `Host: evil.com` made it a redirect to evil.com.  /page/ is a 404 instead.
        redirect_slashes=False,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        telemetry=None if settings.app_telemetry else NO_TELEMETRY,
    )
    app.state.settings = settings
    app.state.refreshes = RefreshCoordinator()
    app.state.dpop = dpop
    app.state.session_store = store
    app.state.logout_tokens = LogoutTokenVerifier(settings.issuer, settings.auth0_client_id)

    app.include_router(auth.router)
    app.include_router(backchannel.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    register_exception_handlers(app)

    # Added innermost first.  The edge (access log, head cap, security headers, the 500
    # page: app/edge.py) wraps everything, the session store's 503 included.
    # /api/* goes straight to the proxy, past FastAPI's router and its middleware: no page or
    # auth route is under /api/ (app/proxy_mount.py).
    app.add_middleware(ProxyMount, settings=settings)
    app.add_middleware(RequestGuard)  # inside the session: it checks the CSRF token's presence
    app.add_middleware(
        ServerSessionMiddleware,
        store=store,
        secret=settings.session_secret,
        idle_timeout=settings.session_idle_timeout,
        absolute_timeout=settings.session_absolute_timeout,
        secure=settings.cookie_secure,
    )
    app.add_middleware(AppEdge, issuer=settings.issuer)
    return app


def configure_logging(handler: logging.Handler | None = None) -> None:
    """How the served app logs (stderr unless `handler`), one line per request at INFO."""
    # uvicorn's own access log is off (it prints query strings: codes, state); this
    # makes the app's one line per request visible instead.
    logging.basicConfig(
        level=logging.INFO, format=LOG_FORMAT, handlers=[handler] if handler else None
    )
    # httpx logs every request at INFO: a second line per proxied call, which repeats
    # the access log (and costs ~4% of the app's CPU under proxy load).
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # No line says where it was logged from, or which thread or process: skip finding the
    # caller's frame and those fields for each record (the logging HOWTO's "Optimization"):
    # half of the access line's cost.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


def _app_from_environment() -> FastAPI:
    try:
        return create_app()
    except SettingsError as exc:
        sys.exit(f"app: cannot start: {exc}")


def __getattr__(name: str) -> FastAPI:
    if name == "app":
        configure_logging()
        app = _app_from_environment()
        globals()["app"] = app  # build once; later lookups find the global directly
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
