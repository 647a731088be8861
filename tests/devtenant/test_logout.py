"""/v2/logout and /oidc/logout end the tenant session and redirect only where allowed."""

from __future__ import annotations

import base64

import httpx
import pytest

from testing.servers import LiveServer
from tests.devtenant.helpers import WEB, authorize_url, login_code, tokens


async def session_is_gone(client: httpx.AsyncClient, tenant: LiveServer) -> bool:
    response = await client.get(authorize_url(tenant, prompt="none"))
    return "error=login_required" in response.headers["location"]


async def test_v2_logout_redirects_to_an_allowed_url_and_ends_the_session(
    tenant: LiveServer, client: httpx.AsyncClient
) -> None:
    await login_code(client, tenant)
    assert not await session_is_gone(client, tenant)
    response = await client.get(
        f"{tenant.url}/v2/logout",
        params={"client_id": WEB[0], "returnTo": "http://app.test/?bye=1"},
    )
    assert response.headers["location"] == "http://app.test/?bye=1"
    assert await session_is_gone(client, tenant)


@pytest.mark.parametrize(
    "params",
    [
        {"client_id": WEB[0], "returnTo": "https://evil.example/"},
        {"returnTo": "http://app.test/"},
        {"client_id": "nobody", "returnTo": "http://app.test/"},
    ],
)
async def test_v2_logout_refuses_other_return_urls(
    tenant: LiveServer, client: httpx.AsyncClient, params: dict[str, str]
) -> None:
    response = await client.get(f"{tenant.url}/v2/logout", params=params)
    assert response.status_code == 400
    assert "location" not in response.headers


async def test_oidc_logout_with_id_token_hint(
    tenant: LiveServer, client: httpx.AsyncClient
) -> None:
    issued = await tokens(client, tenant)
    response = await client.get(
        f"{tenant.url}/oidc/logout",
        params={
            "id_token_hint": issued["id_token"],
            "post_logout_redirect_uri": "http://app.test/",
            "state": "after",
        },
    )
    assert response.headers["location"] == "http://app.test/?state=after"
    assert await session_is_gone(client, tenant)


async def test_oidc_logout_rejects_a_forged_hint(
    tenant: LiveServer, client: httpx.AsyncClient
) -> None:
    issued = await tokens(client, tenant)
    header, payload, signature = issued["id_token"].split(".")
    forged = f"{header}.{payload}.{signature[::-1]}"
    response = await client.get(
        f"{tenant.url}/oidc/logout",
        params={"id_token_hint": forged, "post_logout_redirect_uri": "http://app.test/"},
    )
    assert response.status_code == 400
    assert "location" not in response.headers


async def test_logout_without_return_url_shows_a_page(
    tenant: LiveServer, client: httpx.AsyncClient
) -> None:
    await login_code(client, tenant)
    response = await client.get(f"{tenant.url}/oidc/logout")
    assert response.status_code == 200
    assert "logged out" in response.text
    assert await session_is_gone(client, tenant)


def hostile_hint(header: str, payload: str) -> str:
    def encode(text: str) -> str:
        return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()

    return f"{encode(header)}.{encode(payload)}.x"


NESTED = "[" * 1000 + "]" * 1000


@pytest.mark.parametrize(
    "hint",
    [
        hostile_hint('{"alg":"RS256"}', '{"aud":' + NESTED + "}"),
        hostile_hint('{"alg":"RS256","kid":' + NESTED + "}", '{"aud":"x"}'),
        hostile_hint('{"alg":"RS256"}', NESTED),
        hostile_hint("[1]", "1"),
        hostile_hint('{"alg":"RS256"}', '{"aud":"quickstart-web","exp":1e999}'),
    ],
    ids=["nested-claims", "nested-header", "array-claims", "array-header", "huge-exp"],
)
async def test_hostile_id_token_hints_are_400(
    tenant: LiveServer, client: httpx.AsyncClient, hint: str
) -> None:
    response = await client.get(
        f"{tenant.url}/oidc/logout",
        params={"id_token_hint": hint, "post_logout_redirect_uri": "http://app.test/"},
    )
    assert response.status_code == 400
    assert "not a valid ID token" in response.text
    assert "location" not in response.headers
