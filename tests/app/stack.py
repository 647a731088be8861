"""The whole stack on free loopback ports: dev tenant, API and web app, as real servers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from api.config import Settings as ApiSettings
from api.main import create_app as create_api
from app.config import Settings
from app.main import create_app
from tests.servers import LiveServer, free_port
from tests.tenant import login, start_tenant

ALICE = ("alice@example.com", "alice-demo-password")
BOB = ("bob@example.com", "bob-demo-password")
AUDIENCE = "https://quickstarts/api"
SESSION_SECRET = "test-session-secret-0123456789abcdef"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Stack:
    tenant: LiveServer
    api: LiveServer
    app: LiveServer

    @property
    def issuer(self) -> str:
        return f"{self.tenant.url}/"

    def client(self) -> httpx.AsyncClient:
        """A browser-like client: one cookie jar for tenant and app, redirects by hand."""
        return httpx.AsyncClient(base_url=self.app.url, timeout=10.0)

    async def login(
        self, client: httpx.AsyncClient, user: tuple[str, str] = ALICE, return_to: str = "/"
    ) -> httpx.Response:
        """Log in through the tenant's form; the app's answer to /callback (a redirect)."""
        started = await client.get("/login", params={"returnTo": return_to})
        assert started.status_code == 302, started.text
        back = await login(client, started.headers["location"], *user)
        assert back.status_code == 302, back.text
        return await client.get(back.headers["location"])


def app_settings(tenant_url: str, api_url: str, app_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "auth0_issuer_base_url": f"{tenant_url}/",
        "auth0_audience": AUDIENCE,
        "app_base_url": app_url,
        "api_base_url": api_url,
        "session_secret": SESSION_SECRET,
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@contextmanager
def running_stack(data_dir: Path, **app_overrides: Any) -> Iterator[Stack]:
    app_port = free_port()
    app_url = f"http://127.0.0.1:{app_port}"
    tenant = start_tenant(data_dir, [app_url])
    api_settings = ApiSettings(
        _env_file=None,  # type: ignore[call-arg]
        auth0_issuer_base_url=f"{tenant.url}/",
        auth0_audience=AUDIENCE,
    )
    api = LiveServer(create_api(api_settings)).start()
    settings = app_settings(tenant.url, api.url, app_url, **app_overrides)
    app = LiveServer(create_app(settings), port=app_port).start()
    try:
        yield Stack(tenant=tenant, api=api, app=app)
    finally:
        app.stop()
        api.stop()
        tenant.stop()


def csrf_from(page: httpx.Response) -> str:
    match = CSRF_FIELD.search(page.text)
    assert match, "the page has no CSRF field"
    return match.group(1)
