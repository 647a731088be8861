"""Discovery and userinfo: Auth0's shapes, URLs built from the configured issuer."""

from __future__ import annotations

import httpx

from testing.servers import LiveServer
from tests.devtenant.helpers import bearer, tokens


async def test_openid_configuration(tenant: LiveServer, client: httpx.AsyncClient) -> None:
    response = await client.get(f"{tenant.url}/.well-known/openid-configuration")
    assert response.headers["cache-control"] == "max-age=15"
    config = response.json()
    assert config["issuer"] == f"{tenant.url}/"
    assert config["authorization_endpoint"] == f"{tenant.url}/authorize"
    assert config["end_session_endpoint"] == f"{tenant.url}/oidc/logout"
    assert config["code_challenge_methods_supported"] == ["S256"]
    assert "read:messages" in config["scopes_supported"]


async def test_userinfo_needs_a_token_for_userinfo(
    tenant: LiveServer, client: httpx.AsyncClient
) -> None:
    without_openid = await tokens(client, tenant, scope="offline_access read:messages")
    response = await client.get(
        f"{tenant.url}/userinfo", headers=bearer(without_openid["access_token"])
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    assert (await client.get(f"{tenant.url}/userinfo")).status_code == 401


async def test_userinfo_releases_claims_by_scope(
    tenant: LiveServer, client: httpx.AsyncClient
) -> None:
    issued = await tokens(client, tenant, scope="openid email read:messages")
    info = await client.get(f"{tenant.url}/userinfo", headers=bearer(issued["access_token"]))
    assert info.json()["email"] == "alice@example.com"
    assert "name" not in info.json()
