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
from app.errors import IssuerMismatch

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


async def provider_metadata(provider: OidcProvider, configured_issuer: str) -> dict[str, Any]:
    """The discovery document, fetched once and cached by Authlib, once its issuer is checked.

    Authlib requires ID tokens' `iss` to equal the discovered `issuer` exactly, but never
    compares that issuer with the configured one: this does, up to a trailing slash (Auth0
    spells issuers `https://t.auth0.com/`, Keycloak, Okta and Azure AD without the slash).
    """
    metadata = cast(dict[str, Any], await provider.load_server_metadata())
    issuer = metadata.get("issuer")
    expected = configured_issuer.removesuffix("/")
    if not isinstance(issuer, str) or issuer.removesuffix("/") != expected:
        raise IssuerMismatch(configured_issuer)
    return metadata


def is_auth0_domain(settings: Settings) -> bool:
    """True for an issuer on Auth0's own domains, which always serve `/v2/logout`."""
    host = urlsplit(settings.issuer).hostname or ""
    return host.endswith(AUTH0_DOMAIN_SUFFIXES)
