"""Back-channel logout from the tenant: logout tokens (OIDC Back-Channel Logout 1.0, 2.4)
reach the clients of a session when it ends, by logout or by an administrator."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from jose import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from testing.servers import LiveServer
from testing.tenant import start_tenant
from tests.devtenant.helpers import (
    ALICE,
    APP,
    BOB,
    SPA,
    WEB,
    authorize_url,
    bearer,
    login_code,
    pkce_pair,
    refresh,
    tokens,
    verify_token,
)

LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
ADMIN = ("quickstart-admin", "quickstart-admin-dev-secret")


class Receiver:
    """A client's back-channel logout endpoint that keeps the forms it was sent."""

    def __init__(self) -> None:
        self.forms: list[dict[str, str]] = []
        self.server = LiveServer(
            Starlette(routes=[Route("/backchannel-logout", self.receive, methods=["POST"])])
        )

    async def receive(self, request: Request) -> Response:
        self.forms.append({k: str(v) for k, v in (await request.form()).items()})
        return Response(status_code=200)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.server.start()
    yield receiver
    receiver.server.stop()


@pytest.fixture
def tenant(data_dir: Path, receiver: Receiver) -> Iterator[LiveServer]:
    """The web client's back-channel logout URI is the receiver's (the first app URL)."""
    server = start_tenant(data_dir, [receiver.server.url, APP])
    yield server
    server.stop()


async def logout_claims(
    client: httpx.AsyncClient, tenant: LiveServer, form: dict[str, str]
) -> dict[str, Any]:
    token = form["logout_token"]
    assert jwt.get_unverified_header(token)["typ"] == "logout+jwt"
    return await verify_token(client, tenant, token, WEB[0])


async def test_discovery_advertises_back_channel_logout(
    tenant: LiveServer, client: httpx.AsyncClient
) -> None:
    document = (await client.get(f"{tenant.url}/.well-known/openid-configuration")).json()
    assert document["backchannel_logout_supported"] is True
    assert document["backchannel_logout_session_supported"] is True


@pytest.mark.parametrize("path", ["/v2/logout", "/oidc/logout"])
async def test_logout_sends_a_logout_token_for_the_session(
    tenant: LiveServer, client: httpx.AsyncClient, receiver: Receiver, path: str
) -> None:
    issued = await tokens(client, tenant)
    id_claims = jwt.get_unverified_claims(issued["id_token"])
    await client.get(f"{tenant.url}{path}")
    assert len(receiver.forms) == 1
    claims = await logout_claims(client, tenant, receiver.forms[0])
    assert claims["events"] == {LOGOUT_EVENT: {}}
    assert claims["sid"] == id_claims["sid"]
    assert claims["sub"] == id_claims["sub"]
    assert claims["jti"]
    assert "nonce" not in claims
    assert claims["iat"] <= claims["exp"]
    # The session is over: logging out again has nothing to tell.
    await client.get(f"{tenant.url}{path}")
    assert len(receiver.forms) == 1


async def test_a_session_without_the_client_sends_nothing(
    tenant: LiveServer, client: httpx.AsyncClient, receiver: Receiver
) -> None:
    challenge = pkce_pair()[1]
    await login_code(
        client, tenant, client_id=SPA, code_challenge=challenge, code_challenge_method="S256"
    )
    await client.get(f"{tenant.url}/v2/logout")
    assert receiver.forms == []


async def admin_token(client: httpx.AsyncClient, tenant: LiveServer) -> str:
    form = {"grant_type": "client_credentials", "audience": f"{tenant.url}/api/v2/"}
    response = await client.post(f"{tenant.url}/oauth/token", data=form, auth=ADMIN)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def test_an_administrator_ends_every_session_of_one_user(
    tenant: LiveServer, receiver: Receiver
) -> None:
    async with AsyncExitStack() as stack:
        alice1, alice2, bob = [
            await stack.enter_async_context(httpx.AsyncClient(timeout=10)) for _ in range(3)
        ]
        alice_sids = set()
        for browser in (alice1, alice2):
            id_token = (await tokens(browser, tenant, ALICE))["id_token"]
            alice_sids.add(jwt.get_unverified_claims(id_token)["sid"])
            alice_id = jwt.get_unverified_claims(id_token)["sub"]
        await tokens(bob, tenant, BOB)
        url = f"{tenant.url}/api/v2/users/{alice_id}/sessions"
        response = await bob.delete(url, headers=bearer(await admin_token(bob, tenant)))
        assert response.status_code == 204
        ended = [await logout_claims(bob, tenant, form) for form in receiver.forms]
        assert {claims["sid"] for claims in ended} == alice_sids
        assert {claims["sub"] for claims in ended} == {alice_id}
        assert len({claims["jti"] for claims in ended}) == len(ended) == 2
        # Alice must log in again in both browsers; Bob's session lives on.
        assert (
            "error=login_required"
            in (await alice1.get(authorize_url(tenant, prompt="none"))).headers["location"]
        )
        assert "code=" in (await bob.get(authorize_url(tenant, prompt="none"))).headers["location"]


async def test_ending_sessions_needs_an_admin_token(
    tenant: LiveServer, client: httpx.AsyncClient, receiver: Receiver
) -> None:
    issued = await tokens(client, tenant)
    user_id = jwt.get_unverified_claims(issued["id_token"])["sub"]
    url = f"{tenant.url}/api/v2/users/{user_id}/sessions"
    assert (await client.delete(url)).status_code == 401
    # The user's own Management API token (no delete:sessions, not machine to machine).
    form = {"audience": f"{tenant.url}/api/v2/", "scope": "read:current_user"}
    own = await refresh(client, tenant, issued["refresh_token"], **form)
    assert (await client.delete(url, headers=bearer(own.json()["access_token"]))).status_code == 403
    assert receiver.forms == []
