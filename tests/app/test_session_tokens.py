"""The token manager against the real dev tenant: cache, refresh, rotation, merging, errors."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from jose import jwt

from app.config import MANAGEMENT_API_SCOPE
from app.errors import TokenUnavailable
from app.refresh_once import RefreshCoordinator
from app.session_tokens import (
    REFRESH_KEY,
    TOKEN_MIN_TTL,
    TOKENS_KEY,
    SessionTokens,
    store_token_set,
)
from testing.live_stack import LiveStack, app_settings
from testing.login import ALICE, AUDIENCE
from testing.servers import free_port
from testing.tenant import code_flow

CLIENT = ("quickstart-web", "quickstart-web-dev-secret")
SCOPE = "openid profile email offline_access read:messages"


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10.0) as client:
        yield client


def manager(
    stack: LiveStack, http: httpx.AsyncClient, session: dict[str, Any], **metadata: Any
) -> SessionTokens:
    async def discovery() -> dict[str, Any]:
        if metadata:
            return metadata
        response = await http.get(f"{stack.issuer}.well-known/openid-configuration")
        return dict(response.json())

    settings = app_settings(stack.tenant.url, stack.api.url, stack.app.url)
    return SessionTokens(session, settings, http, discovery, RefreshCoordinator())


async def logged_in_session(stack: LiveStack, http: httpx.AsyncClient) -> dict[str, Any]:
    session: dict[str, Any] = {"user": {"sub": "auth0|alice"}}
    store_token_set(
        session,
        await code_flow(stack.issuer, CLIENT, f"{stack.app.url}/callback", SCOPE, AUDIENCE, *ALICE),
        AUDIENCE,
    )
    return session


def expire(session: dict[str, Any]) -> None:
    for token_set in session[TOKENS_KEY].values():
        token_set["expires_at"] = time.time() + TOKEN_MIN_TTL - 1


async def test_a_valid_cached_token_is_used_as_is(
    stack: LiveStack, http: httpx.AsyncClient
) -> None:
    session = await logged_in_session(stack, http)
    cached = next(iter(session[TOKENS_KEY].values()))["access_token"]
    tokens = manager(stack, http, session)
    assert await tokens.get_access_token() == cached
    assert await tokens.get_access_token(AUDIENCE, "read:messages") == cached


async def test_a_token_near_expiry_is_refreshed_and_the_refresh_token_rotated(
    stack: LiveStack, http: httpx.AsyncClient
) -> None:
    session = await logged_in_session(stack, http)
    old_refresh = session[REFRESH_KEY]
    expire(session)
    token = await manager(stack, http, session).get_access_token()
    # The tenant rotates refresh tokens: a new one proves the refresh happened.
    assert session[REFRESH_KEY] != old_refresh
    audience = jwt.get_unverified_claims(token)["aud"]
    assert AUDIENCE in ([audience] if isinstance(audience, str) else audience)
    token_set = next(t for t in session[TOKENS_KEY].values() if t["access_token"] == token)
    assert token_set["expires_at"] - time.time() > TOKEN_MIN_TTL


async def test_a_second_audience_gets_its_own_token(
    stack: LiveStack, http: httpx.AsyncClient
) -> None:
    session = await logged_in_session(stack, http)
    management = f"{stack.issuer}api/v2/"
    tokens = manager(stack, http, session)
    token = await tokens.get_access_token(management, MANAGEMENT_API_SCOPE)
    claims = jwt.get_unverified_claims(token)
    assert management in ([claims["aud"]] if isinstance(claims["aud"], str) else claims["aud"])
    assert set(MANAGEMENT_API_SCOPE.split()) <= set(claims["scope"].split())
    assert len(session[TOKENS_KEY]) == 2
    assert await tokens.get_access_token(management, MANAGEMENT_API_SCOPE) == token


async def test_concurrent_refreshes_of_one_session_are_merged(
    stack: LiveStack, http: httpx.AsyncClient
) -> None:
    session = await logged_in_session(stack, http)
    expire(session)
    coordinator = RefreshCoordinator()
    settings = app_settings(stack.tenant.url, stack.api.url, stack.app.url)

    async def discovery() -> dict[str, Any]:
        return dict((await http.get(f"{stack.issuer}.well-known/openid-configuration")).json())

    # Each request has its own copy of the session, as each loads it from the store.
    copies = [dict(session) for _ in range(5)]
    managers = [SessionTokens(copy, settings, http, discovery, coordinator) for copy in copies]
    results = await asyncio.gather(*(m.get_access_token() for m in managers))
    # Separate refreshes would reuse a rotated refresh token: the tenant would revoke the
    # family and all but one would fail with login_required.
    assert len(set(results)) == 1
    refresh_tokens = {copy[REFRESH_KEY] for copy in copies}
    assert len(refresh_tokens) == 1
    assert session[REFRESH_KEY] not in refresh_tokens


async def test_no_user_means_login_required(stack: LiveStack, http: httpx.AsyncClient) -> None:
    with pytest.raises(TokenUnavailable) as caught:
        await manager(stack, http, {}).get_access_token()
    assert caught.value.error == "login_required"


async def test_no_refresh_token_means_missing_refresh_token(
    stack: LiveStack, http: httpx.AsyncClient
) -> None:
    session = await logged_in_session(stack, http)
    del session[REFRESH_KEY]
    expire(session)
    with pytest.raises(TokenUnavailable) as caught:
        await manager(stack, http, session).get_access_token()
    assert caught.value.error == "missing_refresh_token"


async def test_a_rejected_refresh_token_clears_the_tokens(
    stack: LiveStack, http: httpx.AsyncClient
) -> None:
    session = await logged_in_session(stack, http)
    session[REFRESH_KEY] = "not-a-refresh-token"
    expire(session)
    with pytest.raises(TokenUnavailable) as caught:
        await manager(stack, http, session).get_access_token()
    assert caught.value.error == "login_required"
    assert TOKENS_KEY not in session
    assert REFRESH_KEY not in session


async def test_tenant_down_is_token_endpoint_unavailable(
    stack: LiveStack, http: httpx.AsyncClient
) -> None:
    session = await logged_in_session(stack, http)
    expire(session)
    nowhere = f"http://127.0.0.1:{free_port()}/oauth/token"
    tokens = manager(stack, http, session, token_endpoint=nowhere)
    with pytest.raises(TokenUnavailable) as caught:
        await tokens.get_access_token()
    assert caught.value.error == "token_endpoint_unavailable"
    assert session[REFRESH_KEY]  # kept: the tenant may come back
