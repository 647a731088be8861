"""The Management API subset: own user only, the right scope, Auth0's error shape, persistence."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from testing.servers import LiveServer
from testing.tenant import start_tenant
from tests.devtenant.helpers import ALICE, APP, BOB, bearer, refresh, tokens

MANAGEMENT_SCOPES = "openid read:current_user update:current_user_metadata"


async def management_token(
    client: httpx.AsyncClient,
    tenant: LiveServer,
    user: tuple[str, str] = ALICE,
    scope: str = MANAGEMENT_SCOPES,
) -> tuple[str, str]:
    """A Management API access token for `user`, and their user id."""
    issued = await tokens(client, tenant, user)
    audience = f"{tenant.url}/api/v2/"
    response = await refresh(
        client, tenant, issued["refresh_token"], audience=audience, scope=scope
    )
    assert response.status_code == 200, response.text
    info = await client.get(f"{tenant.url}/userinfo", headers=bearer(issued["access_token"]))
    return response.json()["access_token"], info.json()["sub"]


def temp_files(folder: Path) -> list[str]:
    """Leftovers of an interrupted atomic write."""
    return [path.name for path in folder.iterdir() if path.name.endswith(".tmp")]


def assert_auth0_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status
    body: dict[str, Any] = response.json()
    assert body["statusCode"] == status
    assert set(body) == {"statusCode", "error", "message", "errorCode"}
    return body


async def test_patch_merges_metadata_and_null_removes_keys(
    tenant: LiveServer, client: httpx.AsyncClient
) -> None:
    token, user_id = await management_token(client, tenant)
    url = f"{tenant.url}/api/v2/users/{user_id}"
    await client.patch(url, headers=bearer(token), json={"user_metadata": {"lang": "fr"}})
    response = await client.patch(
        url, headers=bearer(token), json={"user_metadata": {"theme": None}}
    )
    assert response.json()["user_metadata"] == {"lang": "fr"}
    assert response.json()["updated_at"] != "2024-01-01T00:00:00.000Z"


async def test_another_users_id_is_forbidden(tenant: LiveServer, client: httpx.AsyncClient) -> None:
    token, _ = await management_token(client, tenant)
    async with httpx.AsyncClient() as bobs_browser:
        _, bob_id = await management_token(bobs_browser, tenant, BOB)
    url = f"{tenant.url}/api/v2/users/{bob_id}"
    assert_auth0_error(await client.get(url, headers=bearer(token)), 403)
    patch = await client.patch(url, headers=bearer(token), json={"user_metadata": {"x": 1}})
    assert_auth0_error(patch, 403)


async def test_scopes_are_enforced(tenant: LiveServer, client: httpx.AsyncClient) -> None:
    token, user_id = await management_token(client, tenant, scope="openid read:current_user")
    url = f"{tenant.url}/api/v2/users/{user_id}"
    assert (await client.get(url, headers=bearer(token))).status_code == 200
    patch = await client.patch(url, headers=bearer(token), json={"user_metadata": {"x": 1}})
    assert assert_auth0_error(patch, 403)["errorCode"] == "insufficient_scope"


async def test_api_token_and_no_token_are_401(
    tenant: LiveServer, client: httpx.AsyncClient
) -> None:
    issued = await tokens(client, tenant)
    _, user_id = await management_token(client, tenant)
    url = f"{tenant.url}/api/v2/users/{user_id}"
    assert_auth0_error(await client.get(url, headers=bearer(issued["access_token"])), 401)
    assert_auth0_error(await client.get(url), 401)
    assert_auth0_error(await client.get(url, headers=bearer("not.a.jwt")), 401)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b"[1, 2]", 400),
        (b'{"user_metadata": "text"}', 400),
        (b'{"email": "mallory@example.com"}', 403),
    ],
)
async def test_bad_bodies(
    tenant: LiveServer, client: httpx.AsyncClient, body: bytes, status: int
) -> None:
    token, user_id = await management_token(client, tenant)
    headers = {**bearer(token), "content-type": "application/json"}
    response = await client.patch(
        f"{tenant.url}/api/v2/users/{user_id}", headers=headers, content=body
    )
    assert_auth0_error(response, status)


async def test_metadata_survives_a_restart(client: httpx.AsyncClient, data_dir: Path) -> None:
    tenant = start_tenant(data_dir, [APP])
    try:
        token, user_id = await management_token(client, tenant)
        url = f"{tenant.url}/api/v2/users/{user_id}"
        response = await client.patch(
            url, headers=bearer(token), json={"user_metadata": {"theme": "dark"}}
        )
        assert response.status_code == 200
        tenant.stop()
        tenant.start()
        async with httpx.AsyncClient() as new_browser:  # the tenant session ended
            token, _ = await management_token(new_browser, tenant)
        user = await client.get(url, headers=bearer(token))
        assert user.json()["user_metadata"] == {"theme": "dark"}
    finally:
        tenant.stop()


async def test_concurrent_patches_lose_no_edit(
    tenant: LiveServer, client: httpx.AsyncClient, data_dir: Path
) -> None:
    token, user_id = await management_token(client, tenant)
    url = f"{tenant.url}/api/v2/users/{user_id}"
    edits = [{"user_metadata": {f"key{i}": i}} for i in range(20)]
    responses = await asyncio.gather(
        *(client.patch(url, headers=bearer(token), json=edit) for edit in edits)
    )
    assert all(response.status_code == 200 for response in responses)
    final = (await client.get(url, headers=bearer(token))).json()["user_metadata"]
    assert final == {"theme": "light", **{f"key{i}": i for i in range(20)}}
    assert temp_files(data_dir) == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(
            b'{"user_metadata": ' + b"[" * 2000 + b"]" * 2000 + b"}",
            "invalid JSON",
            id="nested-2000",
        ),
        pytest.param(
            b'{"user_metadata": {"a": ' + b'{"b": ' * 11 + b"1" + b"}" * 12 + b"}",
            "nests deeper",
            id="nested-12",
        ),
        pytest.param(
            b'{"user_metadata": {"blob": "' + b"x" * 11_000 + b'"}}', "larger than", id="11kB"
        ),
    ],
)
async def test_hostile_metadata_is_400_and_keeps_what_was_saved(
    tenant: LiveServer, client: httpx.AsyncClient, body: bytes, message: str
) -> None:
    token, user_id = await management_token(client, tenant)
    url = f"{tenant.url}/api/v2/users/{user_id}"
    headers = {**bearer(token), "content-type": "application/json"}
    response = await client.patch(url, headers=headers, content=body)
    assert message in assert_auth0_error(response, 400)["message"]
    user = await client.get(url, headers=bearer(token))
    assert user.json()["user_metadata"] == {"theme": "light"}


async def test_metadata_cannot_grow_past_the_cap_a_little_at_a_time(
    tenant: LiveServer, client: httpx.AsyncClient
) -> None:
    token, user_id = await management_token(client, tenant)
    url = f"{tenant.url}/api/v2/users/{user_id}"
    statuses = []
    for i in range(4):
        edit = {"user_metadata": {f"key{i}": "y" * 3000}}
        statuses.append((await client.patch(url, headers=bearer(token), json=edit)).status_code)
    assert statuses == [200, 200, 200, 400]
    kept = (await client.get(url, headers=bearer(token))).json()["user_metadata"]
    assert sorted(kept) == ["key0", "key1", "key2", "theme"]
