"""The whole journey a web app makes, end to end against a real tenant."""

from __future__ import annotations

import httpx
from jose import jwt

from testing.servers import LiveServer
from tests.devtenant.helpers import (
    ALICE,
    API,
    FULL_SCOPE,
    WEB,
    bearer,
    refresh,
    tokens,
    verify_token,
)


async def test_code_flow_to_userinfo_management_api_and_logout(
    tenant: LiveServer, client: httpx.AsyncClient
) -> None:
    issued = await tokens(client, tenant)
    assert issued["token_type"] == "Bearer"
    assert set(issued) >= {"access_token", "id_token", "refresh_token", "expires_in"}

    claims = await verify_token(client, tenant, issued["access_token"], API)
    assert claims["aud"] == [API, f"{tenant.url}/userinfo"]
    assert claims["azp"] == WEB[0]
    assert claims["sub"].startswith("auth0|")
    assert len(claims["sub"]) == len("auth0|") + 24
    assert claims["scope"] == FULL_SCOPE
    assert "permissions" not in claims

    id_claims = await verify_token(client, tenant, issued["id_token"], WEB[0])
    assert id_claims["nonce"] == "the-nonce"
    assert id_claims["email"] == ALICE[0]
    assert id_claims["name"] == "Alice Example"
    assert id_claims["sub"] == claims["sub"]
    assert {"sid", "updated_at", "picture"} <= id_claims.keys()
    avatar = await client.get(id_claims["picture"])
    assert avatar.status_code == 200
    assert avatar.headers["content-type"] == "image/svg+xml"

    info = await client.get(f"{tenant.url}/userinfo", headers=bearer(issued["access_token"]))
    assert info.status_code == 200
    assert info.json()["email"] == ALICE[0]
    assert info.json()["sub"] == claims["sub"]

    management = f"{tenant.url}/api/v2/"
    response = await refresh(
        client,
        tenant,
        issued["refresh_token"],
        audience=management,
        scope="openid read:current_user update:current_user_metadata",
    )
    assert response.status_code == 200, response.text
    mgmt_token = response.json()["access_token"]
    assert (await verify_token(client, tenant, mgmt_token, management))["sub"] == claims["sub"]
    user_url = f"{management}users/{claims['sub']}"
    user = await client.get(user_url, headers=bearer(mgmt_token))
    assert user.status_code == 200
    assert user.json()["user_metadata"] == {"theme": "light"}
    patched = await client.patch(
        user_url,
        headers=bearer(mgmt_token),
        json={"user_metadata": {"theme": "dark", "lang": "fr"}},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["user_metadata"] == {"theme": "dark", "lang": "fr"}

    logout = await client.get(
        f"{tenant.url}/v2/logout", params={"client_id": WEB[0], "returnTo": "http://app.test/"}
    )
    assert logout.status_code == 302
    assert logout.headers["location"] == "http://app.test/"
    silent = await client.get(
        f"{tenant.url}/authorize",
        params={
            "client_id": WEB[0],
            "redirect_uri": "http://app.test/callback",
            "response_type": "code",
            "prompt": "none",
            "state": "s",
        },
    )
    assert "error=login_required" in silent.headers["location"]
    assert jwt.get_unverified_header(issued["access_token"])["alg"] == "RS256"
