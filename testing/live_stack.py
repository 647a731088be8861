"""Tenant, API and app as real servers in this process, on free loopback ports.

Each is a `LiveServer` (uvicorn in a thread), so tests reach into the app (its session
store) and can stop and start any server again on its port.  A `Gate` in front of the
tenant can make chosen paths fail, as a broken JWKS endpoint would; with nothing failing
it passes every request through.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from api.config import Settings as ApiSettings
from api.main import create_app as create_api
from app.config import Settings as AppSettings
from app.main import create_app
from devtenant.config import Settings as TenantSettings
from devtenant.main import create_app as create_tenant
from testing.login import ALICE, AUDIENCE, log_in
from testing.servers import LiveServer, free_port
from testing.tenant import mrrt_config_file

SESSION_SECRET = "test-session-secret-0123456789abcdef"  # noqa: S105 - a throwaway test app's
JWKS_PATH = "/.well-known/jwks.json"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
CLIENT_TIMEOUT = 10.0  # seconds for each request of a test's browser


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
class LiveStack:
    """The three running servers, and the gate in front of the tenant."""

    tenant: LiveServer
    api: LiveServer
    app: LiveServer
    gate: Gate

    @property
    def issuer(self) -> str:
        return f"{self.tenant.url}/"

    def client(self) -> httpx.AsyncClient:
        """A browser-like client: one cookie jar for tenant and app, redirects by hand."""
        return httpx.AsyncClient(base_url=self.app.url, timeout=CLIENT_TIMEOUT)

    async def login(
        self, client: httpx.AsyncClient, user: tuple[str, str] = ALICE, return_to: str = "/"
    ) -> httpx.Response:
        """Log in through the tenant's form; the app's answer to /callback (a redirect)."""
        return await log_in(client, self.app.url, user, return_to)


def app_settings(tenant_url: str, api_url: str, app_url: str, **overrides: Any) -> AppSettings:
    """The app's settings for a stack on loopback; `overrides` are any other Settings fields."""
    values: dict[str, Any] = {
        "auth0_issuer_base_url": f"{tenant_url}/",
        "auth0_audience": AUDIENCE,
        "app_base_url": app_url,
        "api_base_url": api_url,
        "session_secret": SESSION_SECRET,
        **overrides,
    }
    return AppSettings(_env_file=None, **values)


@contextmanager
def running_live_stack(
    data_dir: Path,
    tenant: dict[str, Any] | None = None,
    app: dict[str, Any] | None = None,
    api: dict[str, Any] | None = None,
    mrrt_audiences: list[str] | None = None,
) -> Iterator[LiveStack]:
    """All three started on free ports; stopped afterwards, whatever happens.

    `tenant`, `app` and `api` are extra settings for the tenant's, app's and API's Settings;
    `mrrt_audiences` limits the APIs a refresh may switch to, as Auth0's MRRT policies do.
    """
    app_port, tenant_port = free_port(), free_port()
    app_url = f"http://127.0.0.1:{app_port}"
    tenant_url = f"http://127.0.0.1:{tenant_port}"
    if mrrt_audiences is not None:
        config = mrrt_config_file(data_dir, f"{tenant_url}/", [app_url], mrrt_audiences)
        tenant = {**(tenant or {}), "devtenant_config_file": config}
    tenant_settings = TenantSettings(
        _env_file=None,
        devtenant_issuer=f"{tenant_url}/",
        devtenant_data_dir=data_dir,
        devtenant_app_urls=[app_url],
        **(tenant or {}),
    )
    gate = Gate(create_tenant(tenant_settings))
    api_settings = ApiSettings(
        _env_file=None,
        auth0_issuer_base_url=f"{tenant_url}/",
        auth0_audience=AUDIENCE,
        **(api or {}),
    )
    with ExitStack() as servers:
        tenant_server = servers.enter_context(LiveServer(gate, port=tenant_port))
        api_server = servers.enter_context(LiveServer(create_api(api_settings)))
        settings = app_settings(tenant_url, api_server.url, app_url, **(app or {}))
        app_server = servers.enter_context(LiveServer(create_app(settings), port=app_port))
        yield LiveStack(tenant=tenant_server, api=api_server, app=app_server, gate=gate)


def csrf_from(page: httpx.Response) -> str:
    """The CSRF token in a page's form."""
    match = CSRF_FIELD.search(page.text)
    assert match, "the page has no CSRF field"
    return match.group(1)


async def ping_without_javascript(browser: httpx.AsyncClient, endpoint: str = "external") -> str:
    """Click a button of the External API page as a form post (the no-JavaScript path);
    the page's result section."""
    page = await browser.get("/external-api")
    form = {"csrf_token": csrf_from(page), "endpoint": endpoint}
    shown = await browser.post("/external-api", data=form)
    assert shown.status_code == 200
    return shown.text.split('id="api-result"', 1)[1]
