"""The OpenID provider: Authlib's Starlette client, wired to the one shared httpx client.

Authlib opens a short-lived `AsyncOAuth2Client` (an `httpx.AsyncClient`) for each step
(discovery, code exchange, JWKS).  Rather than let each of those open its own connection
pool, `SharedClientTransport` hands every request to the process's shared client, so the
timeouts, connection limits and pooling configured once in `app/http.py` apply to login too.
"""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import urlsplit

import httpx
from authlib.integrations.starlette_client import OAuth

from app.config import Settings

PROVIDER = "auth0"  # the registry name; it also prefixes Authlib's state keys in the session
DISCOVERY_PATH = ".well-known/openid-configuration"
AUTH0_DOMAIN_SUFFIXES = (".auth0.com", ".auth0app.com")

# The registered provider: Authlib's `StarletteOAuth2App`, untyped upstream.
OidcProvider = Any


class SharedClientTransport(httpx.AsyncBaseTransport):
    """Sends requests through the shared client; closing it leaves the shared client open."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._client.send(request, stream=True)

    async def aclose(self) -> None:
        """Authlib closes its per-step client after each step; the shared one must live on."""


def create_oauth(settings: Settings, http: httpx.AsyncClient) -> OAuth:
    """The Authlib registry with one provider: code flow, PKCE S256, state and nonce."""
    oauth = OAuth()
    oauth.register(
        PROVIDER,
        client_id=settings.auth0_client_id,
        client_secret=settings.auth0_client_secret,
        server_metadata_url=f"{settings.issuer}{DISCOVERY_PATH}",
        client_kwargs={
            "scope": settings.auth0_scope,
            "code_challenge_method": "S256",
            "transport": SharedClientTransport(http),
            "timeout": http.timeout,
        },
    )
    return oauth


async def provider_metadata(provider: OidcProvider) -> dict[str, Any]:
    """The discovery document, fetched once and cached by Authlib."""
    metadata = await provider.load_server_metadata()
    return cast(dict[str, Any], metadata)


def is_auth0_like(settings: Settings, metadata: dict[str, Any]) -> bool:
    """True when logout goes to Auth0's `/v2/logout` rather than `end_session_endpoint`.

    Auth0 tenants and the dev tenant speak `/v2/logout`; any other provider that publishes an
    `end_session_endpoint` gets standard RP-initiated logout.
    """
    if settings.on_dev_tenant or not metadata.get("end_session_endpoint"):
        return True
    host = urlsplit(settings.issuer).hostname or ""
    return host.endswith(AUTH0_DOMAIN_SUFFIXES)
