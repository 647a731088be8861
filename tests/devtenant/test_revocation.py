"""/oauth/revoke (RFC 7009): a client ends its refresh token, and only its own."""

from __future__ import annotations

import httpx
import pytest

from testing.servers import LiveServer
from tests.devtenant.helpers import SPA, WEB, refresh, tokens


def client_auth(auth: tuple[str, str] | None) -> httpx.BasicAuth | httpx.Auth:
    """Basic credentials, or none at all (a public client names itself in the form)."""
    return httpx.BasicAuth(*auth) if auth else httpx.Auth()


async def revoke(
    client: httpx.AsyncClient, tenant: LiveServer, token: str, auth: tuple[str, str] | None = WEB
) -> httpx.Response:
    form = {"token": token, "token_type_hint": "refresh_token"}
    if auth is None:
        form["client_id"] = SPA
    return await client.post(f"{tenant.url}/oauth/revoke", data=form, auth=client_auth(auth))


async def test_discovery_advertises_the_revocation_endpoint(
    tenant: LiveServer, client: httpx.AsyncClient
) -> None:
    config = (await client.get(f"{tenant.url}/.well-known/openid-configuration")).json()
    assert config["revocation_endpoint"] == f"{tenant.url}/oauth/revoke"


async def test_a_revoked_refresh_token_and_its_rotations_stop_working(
    tenant: LiveServer, client: httpx.AsyncClient
) -> None:
    first = (await tokens(client, tenant))["refresh_token"]
    second = (await refresh(client, tenant, first)).json()["refresh_token"]
    response = await revoke(client, tenant, second)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    after = await refresh(client, tenant, second)
    assert after.status_code == 400
    assert after.json()["error"] == "invalid_grant"


async def test_an_unknown_token_is_200_and_reveals_nothing(
    tenant: LiveServer, client: httpx.AsyncClient
) -> None:
    assert (await revoke(client, tenant, "not-a-token")).status_code == 200


async def test_another_clients_token_is_refused_and_kept(
    tenant: LiveServer, client: httpx.AsyncClient
) -> None:
    token = (await tokens(client, tenant))["refresh_token"]
    response = await revoke(client, tenant, token, auth=None)  # the SPA, a public client
    assert response.status_code == 400
    assert response.json()["error"] == "unauthorized_client"
    assert (await refresh(client, tenant, token)).status_code == 200


@pytest.mark.parametrize(
    ("form", "auth", "status", "error"),
    [
        ({"token": "x"}, ("quickstart-web", "wrong"), 401, "invalid_client"),
        ({"token": "x"}, None, 401, "invalid_client"),
        ({}, WEB, 400, "invalid_request"),
        ({"token": "x" * 10_000}, WEB, 400, "invalid_request"),
    ],
)
async def test_bad_revocation_requests_get_oauth_errors(
    tenant: LiveServer,
    client: httpx.AsyncClient,
    form: dict[str, str],
    auth: tuple[str, str] | None,
    status: int,
    error: str,
) -> None:
    response = await client.post(f"{tenant.url}/oauth/revoke", data=form, auth=client_auth(auth))
    assert response.status_code == status
    assert response.json()["error"] == error
