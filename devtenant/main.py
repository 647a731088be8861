"""The dev tenant's ASGI app: `create_app()` for tests, lazy `app` for uvicorn."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from devtenant import (
    authorize,
    discovery,
    errors,
    logout,
    management,
    revocation,
    token_endpoint,
    userinfo,
)
from devtenant.config import Settings, SettingsError, get_settings, load_registry
from devtenant.tenant import PACKAGE_DIR, TEMPLATES, Tenant

SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",  # old browsers
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    registry = load_registry(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Made per start so a restarted server gets fresh locks on its own event loop,
        # while users' edits and keys come back from the data folder.
        async with httpx.AsyncClient(follow_redirects=False) as http:
            app.state.tenant = Tenant.open(settings, registry, http)
            yield

    app = FastAPI(
        title="devtenant",
        description="A local Auth0-compatible tenant. For development only.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.mount("/static", StaticFiles(directory=PACKAGE_DIR / "static"), name="static")
    routers = (discovery, authorize, token_endpoint, revocation, userinfo, logout, management)
    for module in routers:
        app.include_router(module.router)
    origins = sorted({origin for client in registry.clients for origin in client.web_origins})
    # Browsers of registered web origins may call the token, userinfo and Management API.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=origins,
        allow_methods=["GET", "POST", "PATCH"],
        allow_headers=["Authorization", "Content-Type", "DPoP"],
    )
    app.middleware("http")(security_headers)  # outermost: error pages get them too
    errors.install(app, TEMPLATES)
    return app


async def security_headers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """No tenant page may be framed (a framed login form invites clickjacking) or sniffed."""
    response = await call_next(request)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def __getattr__(name: str) -> Any:
    """Build `app` on first use, so importing create_app never needs settings."""
    if name != "app":
        raise AttributeError(name)
    try:
        return create_app()
    except SettingsError as exc:
        sys.exit(f"devtenant: cannot start: {exc}")
