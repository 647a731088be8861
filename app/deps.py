"""Every dependency of the routes, as `Annotated` aliases: the one place that reads `app.state`.

`create_app` and the lifespan put the process-wide objects on `app.state` (settings, the
shared httpx client, the Authlib registry, the refresh coordinator, the DPoP key, the session
store, the logout-token checker); routes
never reach for them, they name what they need (`http: HttpDep`, `tokens: TokenSourceDep`,
...), so the request path reads from each route's signature and tests swap any of them
with `app.dependency_overrides`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, cast

import httpx
from authlib.integrations.starlette_client import OAuth
from fastapi import Depends, Request
from starlette.datastructures import State
from starlette.requests import HTTPConnection
from starlette.types import Scope

from app.config import Settings
from app.dpop import DpopKey
from app.errors import LoginRequired
from app.http import SharedClient
from app.logout_token import LogoutTokenVerifier
from app.oidc import PROVIDER, OidcProvider, provider_metadata
from app.refresh_once import RefreshCoordinator, SharedSession
from app.session_state import session_id
from app.session_store import SessionStore
from app.session_tokens import SessionTokens
from app.token_source import TokenSource

PARTS_ON_STATE = "token_source_parts"  # the app.state attribute that keeps them


# Dependencies are `async def` on purpose: FastAPI runs a plain `def` dependency in a
# worker thread, which costs more per request than these lookups.
def app_settings(request: Request) -> Settings:
    """The app's settings, for code that runs outside a route (error pages)."""
    return cast(Settings, request.app.state.settings)


async def get_app_settings(request: Request) -> Settings:
    return app_settings(request)


async def get_http(request: Request) -> httpx.AsyncClient:
    """The process's one shared client (made in the lifespan)."""
    return cast(httpx.AsyncClient, request.app.state.http)


async def get_provider(request: Request) -> OidcProvider:
    """The tenant's Authlib client (registered in the lifespan, see app/oidc.py)."""
    return cast(OAuth, request.app.state.oauth).create_client(PROVIDER)


async def get_dpop(request: Request) -> DpopKey | None:
    """The process's DPoP key when AUTH0_DPOP is on (made in create_app, see app/dpop.py)."""
    return cast(DpopKey | None, request.app.state.dpop)


async def get_session_store(request: Request) -> SessionStore:
    """The store the session middleware keeps sessions in (made in `create_app`)."""
    return cast(SessionStore, request.app.state.session_store)


async def get_logout_tokens(request: Request) -> LogoutTokenVerifier:
    """The checker of back-channel logout tokens for this app's client and issuer."""
    return cast(LogoutTokenVerifier, request.app.state.logout_tokens)


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
HttpDep = Annotated[httpx.AsyncClient, Depends(get_http)]
ProviderDep = Annotated[OidcProvider, Depends(get_provider)]
DpopDep = Annotated[DpopKey | None, Depends(get_dpop)]
SessionStoreDep = Annotated[SessionStore, Depends(get_session_store)]
LogoutTokensDep = Annotated[LogoutTokenVerifier, Depends(get_logout_tokens)]


def shared_client(scope: Scope) -> SharedClient:
    """The shared client, for the `/api/*` proxy (a plain ASGI endpoint, no dependencies)."""
    return cast(SharedClient, scope["app"].state.http)


async def get_token_source(request: Request) -> TokenSource:
    """The token manager of this request's session: what the allow-list interceptor asks.

    It reads `app.state` itself rather than through SettingsDep, HttpDep, ProviderDep and
    DpopDep: FastAPI resolves each nested dependency at a measurable cost (bench/README.md).
    Tests replace this dependency as a whole.
    """
    return session_token_source(request)


@dataclass(frozen=True, slots=True)
class TokenSourceParts:
    """What every request's token manager shares: read from `app.state` once per client.

    The proxy builds a token manager for each call; reading six `app.state` attributes
    (each a Python-level lookup) and the provider's metadata closure every time cost more
    than the rest of building it.
    """

    settings: Settings
    http: httpx.AsyncClient
    metadata: Callable[[], Awaitable[dict[str, Any]]]
    refreshes: RefreshCoordinator
    dpop: DpopKey | None
    store: SessionStore

    @classmethod
    def of(cls, state: State) -> TokenSourceParts:
        settings = cast(Settings, state.settings)
        provider = cast(OAuth, state.oauth).create_client(PROVIDER)
        return cls(
            settings,
            cast(httpx.AsyncClient, state.http),
            lambda: provider_metadata(provider, settings.issuer),
            cast(RefreshCoordinator, state.refreshes),
            cast(DpopKey | None, state.dpop),
            cast(SessionStore, state.session_store),
        )


def token_source_parts(state: State) -> TokenSourceParts:
    """The state's `TokenSourceParts`, made again when the lifespan made a new client."""
    parts: TokenSourceParts | None = getattr(state, PARTS_ON_STATE, None)
    if parts is None or parts.http is not state.http:
        parts = TokenSourceParts.of(state)
        setattr(state, PARTS_ON_STATE, parts)
    return parts


def session_token_source(request: HTTPConnection) -> TokenSource:
    """`get_token_source` for code outside FastAPI's dependencies (the `/api/*` proxy)."""
    parts = token_source_parts(request.scope["app"].state)
    stored_id = session_id(request)
    shared = None
    if stored_id is not None:  # a stored session: refresh once across every process
        lock_timeout = parts.settings.refresh_lock_timeout
        shared = SharedSession(parts.store, stored_id, lock_timeout, request)
    return SessionTokens(
        request.session,
        parts.settings,
        parts.http,
        parts.metadata,
        parts.refreshes,
        parts.dpop,
        shared,
    )


TokenSourceDep = Annotated[TokenSource, Depends(get_token_source)]


def current_user(request: Request) -> dict[str, Any] | None:
    """The logged-in user's profile claims from the session, or None."""
    if "session" not in request.scope:  # the session store failed before the handler ran
        return None
    user = request.session.get("user")
    return cast(dict[str, Any], user) if isinstance(user, dict) else None


async def require_user(request: Request) -> dict[str, Any]:
    """The logged-in user, or LoginRequired (back to this page after login)."""
    user = current_user(request)
    if user is None:
        raise LoginRequired(request.url.path)
    return user


UserDep = Annotated[dict[str, Any], Depends(require_user)]
