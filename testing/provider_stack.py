"""API and web app configured for `testing.provider.TestProvider` instead of the dev tenant.

The provider's issuer is spelled with or without a trailing slash, and the API and the app
may be configured with the other spelling: discovery must still be accepted, and tokens
must carry the discovered spelling exactly.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from urllib.parse import urljoin

import httpx

from api.config import Settings as ApiSettings
from api.main import create_app as create_api
from app.main import create_app
from testing.live_stack import app_settings
from testing.login import AUDIENCE
from testing.provider import CLIENT_ID, CLIENT_SECRET, TestProvider
from testing.servers import LiveServer, free_port

REQUEST_FIELD = re.compile(r'name="request" value="([^"]+)"')


@dataclass
class ProviderStack:
    provider: TestProvider
    api: LiveServer
    app: LiveServer

    def client(self) -> httpx.AsyncClient:
        """A browser-like client: one cookie jar for provider and app, redirects by hand."""
        return httpx.AsyncClient(base_url=self.app.url, timeout=10.0)

    async def login(self, client: httpx.AsyncClient, return_to: str = "/") -> httpx.Response:
        """Sign in at the provider; the app's answer to /callback (a redirect)."""
        started = await client.get("/login", params={"returnTo": return_to})
        assert started.status_code == 302, started.text
        authorize = started.headers["location"]
        page = await client.get(authorize)
        assert page.status_code == 200, page.text
        match = REQUEST_FIELD.search(page.text)
        assert match, "the provider's sign-in page has no request field"
        approved = await client.post(urljoin(authorize, "authorize"), data={"request": match[1]})
        assert approved.status_code == 303, approved.text
        return await client.get(approved.headers["location"])


@contextmanager
def running_provider_stack(
    *, trailing_slash: bool = False, configured_slash: bool | None = None
) -> Iterator[ProviderStack]:
    """Provider, API and app on free ports.  The API and the app are configured with the
    issuer spelled as `configured_slash` says (by default as the provider spells it)."""
    app_url = f"http://127.0.0.1:{free_port()}"
    provider = TestProvider(
        redirect_uris=[f"{app_url}/callback"],
        logout_uris=[f"{app_url}/"],
        audience=AUDIENCE,
        trailing_slash=trailing_slash,
    )
    with ExitStack() as stack:
        stack.enter_context(provider)
        slash = trailing_slash if configured_slash is None else configured_slash
        configured = provider.url.rstrip("/") + ("/" if slash else "")
        api_settings = ApiSettings(
            _env_file=None,
            auth0_issuer_base_url=configured,
            auth0_audience=AUDIENCE,
        )
        api = stack.enter_context(LiveServer(create_api(api_settings)))
        settings = app_settings(
            provider.url,
            api.url,
            app_url,
            auth0_issuer_base_url=configured,
            auth0_client_id=CLIENT_ID,
            auth0_client_secret=CLIENT_SECRET,
        )
        port = int(app_url.rsplit(":", 1)[1])
        app = stack.enter_context(LiveServer(create_app(settings), port=port))
        yield ProviderStack(provider=provider, api=api, app=app)
