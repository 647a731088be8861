"""Tenant, API and app in this process, with the knobs the fault tests turn.

Built from the same parts as `tests.app.stack.running_stack` (the tenant's Settings, the
API's and the app's `create_app`, `LiveServer`), plus: tenant settings (short token
lifetimes), app settings (a Redis store), and a `Gate` in front of the tenant that can make
chosen paths fail, as a broken JWKS endpoint would.  Each server can be stopped and
started again on its port.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from api.config import Settings as ApiSettings
from api.main import create_app as create_api
from app.config import SESSION_COOKIE
from app.main import create_app
from app.session_middleware import ServerSessionMiddleware
from app.session_store import SessionStore
from app.tokens import TOKENS_KEY
from devtenant.config import Settings as TenantSettings
from devtenant.main import create_app as create_tenant
from tests.app.stack import AUDIENCE, Stack, app_settings
from tests.servers import LiveServer, free_port

JWKS_PATH = "/.well-known/jwks.json"
SAVE_TTL = 60 * 60  # seconds a record rewritten by a test stays in the store


class Gate:
    """ASGI middleware that answers 500 on the paths in `failing`, and passes the rest."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.failing: set[str] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in self.failing:
            headers = [(b"content-type", b"text/plain"), (b"content-length", b"6")]
            await send({"type": "http.response.start", "status": 500, "headers": headers})
            await send({"type": "http.response.body", "body": b"broken"})
            return
        await self.app(scope, receive, send)


@dataclass
class System(Stack):
    """The running stack, and the gate in front of its tenant."""

    gate: Gate


@contextmanager
def running_system(
    data_dir: Path, tenant: dict[str, Any] | None = None, app: dict[str, Any] | None = None
) -> Iterator[System]:
    """All three started on free ports behind `System`; stopped afterwards, whatever happens.

    `tenant` and `app` are extra settings for the tenant's and the app's Settings.
    """
    app_port, tenant_port = free_port(), free_port()
    app_url = f"http://127.0.0.1:{app_port}"
    tenant_url = f"http://127.0.0.1:{tenant_port}"
    tenant_settings = TenantSettings(
        _env_file=None,  # type: ignore[call-arg]
        devtenant_issuer=f"{tenant_url}/",
        devtenant_data_dir=data_dir,
        devtenant_app_urls=[app_url],
        **(tenant or {}),
    )
    gate = Gate(create_tenant(tenant_settings))
    api_settings = ApiSettings(
        _env_file=None,  # type: ignore[call-arg]
        auth0_issuer_base_url=f"{tenant_url}/",
        auth0_audience=AUDIENCE,
    )
    with ExitStack() as stack:
        tenant_server = stack.enter_context(LiveServer(gate, port=tenant_port))
        api_server = stack.enter_context(LiveServer(create_api(api_settings)))
        settings = app_settings(tenant_url, api_server.url, app_url, **(app or {}))
        app_server = stack.enter_context(LiveServer(create_app(settings), port=app_port))
        yield System(tenant=tenant_server, api=api_server, app=app_server, gate=gate)


def session_store(system: Stack) -> SessionStore:
    """The app's own session store (the middleware's), to read or age a record."""
    for middleware in system.app.app.user_middleware:
        if middleware.cls is ServerSessionMiddleware:
            store: SessionStore = middleware.kwargs["store"]
            return store
    raise AssertionError("the app has no session middleware")


def session_id(browser: httpx.AsyncClient) -> str:
    """The id in the browser's signed session cookie (id.timestamp.signature)."""
    cookie = browser.cookies.get(SESSION_COOKIE)
    assert cookie, "the browser has no session cookie"
    return cookie.split(".")[0]


async def session_record(system: Stack, browser: httpx.AsyncClient) -> dict[str, Any]:
    record = await session_store(system).load(session_id(browser))
    assert record is not None, "the browser's session is not in the store"
    return dict(record)


async def age_access_tokens(system: Stack, browser: httpx.AsyncClient) -> None:
    """Make the session's access tokens expired, as time would: the next use must refresh."""
    record = await session_record(system, browser)
    for token_set in record[TOKENS_KEY].values():
        token_set["expires_at"] = time.time() - 1
    await session_store(system).save(session_id(browser), record, SAVE_TTL)
