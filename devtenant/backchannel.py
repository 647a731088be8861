"""OIDC Back-Channel Logout 1.0: telling clients, server to server, that a session ended.

When a tenant session ends (`/v2/logout`, `/oidc/logout`, or an administrator ending a
user's sessions), every client that received a code in that session and registered a
`backchannel_logout_uri` gets a POST with a signed logout token (section 2.4).  Deliveries
run concurrently and are awaited, each bounded by `DELIVERY_TIMEOUT`, so the logout
response is sent once the clients were told; a client that is down is logged, never an
error for the user, as at Auth0.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from typing import Any

import httpx

from devtenant.config import Client
from devtenant.grants import Session
from devtenant.tenant import Tenant

LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_TYPE = "logout+jwt"  # noqa: S105 - explicit typing, never taken for an ID token
LOGOUT_TOKEN_LIFETIME = 2 * 60  # seconds: a logout token is used at once
DELIVERY_TIMEOUT = 5.0  # seconds for one client's back-channel request, connect included

log = logging.getLogger("devtenant.backchannel")


def logout_token(tenant: Tenant, client: Client, session: Session) -> str:
    """A logout token for `session` addressed to `client` (no nonce, by the spec)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": tenant.settings.issuer,
        "aud": client.client_id,
        "iat": now,
        "exp": now + LOGOUT_TOKEN_LIFETIME,
        "jti": secrets.token_urlsafe(16),
        "events": {LOGOUT_EVENT: {}},
        "sub": session.user_id,
    }
    if client.backchannel_logout_session_required:
        claims["sid"] = session.sid
    return tenant.keys.sign(claims, typ=LOGOUT_TOKEN_TYPE)


async def _deliver(http: httpx.AsyncClient, client: Client, token: str) -> None:
    assert client.backchannel_logout_uri is not None
    try:
        response = await http.post(
            client.backchannel_logout_uri,
            data={"logout_token": token},
            timeout=DELIVERY_TIMEOUT,
        )
    except httpx.HTTPError as exc:
        # The client id and error class only: the URL is the client's, the token a secret.
        log.warning("back-channel logout to %s failed: %s", client.client_id, type(exc).__name__)
        return
    if response.status_code != 200:
        log.warning("back-channel logout to %s answered %d", client.client_id, response.status_code)


async def notify(tenant: Tenant, sessions: list[Session]) -> None:
    """Send a logout token for each ended session to each client that took part in it."""
    deliveries = []
    for session in sessions:
        for client_id in sorted(session.client_ids):
            client = tenant.registry.client(client_id)
            if client is not None and client.backchannel_logout_uri:
                token = logout_token(tenant, client, session)
                deliveries.append(_deliver(tenant.http, client, token))
    await asyncio.gather(*deliveries)
