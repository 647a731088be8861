"""The dev tenant as a live server, and a scripted login, for any package's tests."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx

from devtenant.config import Settings
from devtenant.main import create_app
from tests.servers import LiveServer, free_port

LOGIN_STATE = re.compile(r'name="state" value="([^"]+)"')


def start_tenant(data_dir: Path, app_urls: list[str], **settings_overrides: Any) -> LiveServer:
    """A started dev tenant on a free port, issuer http://127.0.0.1:{port}/."""
    port = free_port()
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        devtenant_issuer=f"http://127.0.0.1:{port}/",
        devtenant_data_dir=data_dir,
        devtenant_app_urls=app_urls,
        **settings_overrides,
    )
    return LiveServer(create_app(settings), port=port).start()


async def login(
    client: httpx.AsyncClient, authorize_url: str, email: str, password: str
) -> httpx.Response:
    """Log in through the tenant's form; the redirect back to the client, not followed."""
    page = await client.get(authorize_url, follow_redirects=False)
    if page.status_code == 302:  # the tenant session already answers silently
        return page
    assert page.status_code == 200, page.text
    match = LOGIN_STATE.search(page.text)
    assert match, "the login page has no state field"
    form = {"state": match.group(1), "username": email, "password": password}
    return await client.post(urljoin(authorize_url, "/u/login"), data=form, follow_redirects=False)
