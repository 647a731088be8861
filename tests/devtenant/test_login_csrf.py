"""Login CSRF: a login transaction is finished only by the browser that started it, from the
tenant's own page, and the page cannot be framed."""

from __future__ import annotations

import httpx
import pytest

from testing.login import LOGIN_STATE
from testing.servers import LiveServer
from tests.devtenant.helpers import authorize_url, redirect_params


async def start_login(client: httpx.AsyncClient, tenant: LiveServer) -> str:
    """The transaction id on the login page `client` opened."""
    page = await client.get(authorize_url(tenant))
    match = LOGIN_STATE.search(page.text)
    assert match
    return str(match.group(1))


async def test_another_browser_cannot_finish_my_login_transaction(
    tenant: LiveServer, client: httpx.AsyncClient
) -> None:
    """The attack: the attacker starts a login, the victim's browser posts it as Bob."""
    attackers = await start_login(client, tenant)
    async with httpx.AsyncClient() as victim:
        await victim.get(authorize_url(tenant))  # the victim has a browser cookie of their own
        response = await victim.post(
            f"{tenant.url}/u/login", data={"state": attackers, "demo": "bob@example.com"}
        )
        assert response.status_code == 400
        assert "opened in another browser" in response.text
        assert "location" not in response.headers
        assert "devtenant_session" not in response.headers.get("set-cookie", "")
    # ...and the attacker's own browser still can.
    mine = await client.post(
        f"{tenant.url}/u/login", data={"state": attackers, "demo": "bob@example.com"}
    )
    assert "code" in redirect_params(mine)


async def test_the_browser_cookie_is_httponly_lax_and_set_with_the_login_page(
    tenant: LiveServer, client: httpx.AsyncClient
) -> None:
    page = await client.get(authorize_url(tenant))
    cookie = page.headers["set-cookie"].lower()
    assert cookie.startswith("devtenant_browser=")
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    again = await client.get(authorize_url(tenant))  # a second tab keeps the same cookie
    assert again.headers["set-cookie"].split(";")[0] == page.headers["set-cookie"].split(";")[0]


async def test_a_forged_browser_cookie_gets_a_fresh_one(
    tenant: LiveServer, client: httpx.AsyncClient
) -> None:
    client.cookies.set("devtenant_browser", "short")
    page = await client.get(authorize_url(tenant))
    value = page.headers["set-cookie"].split(";")[0].split("=", 1)[1]
    assert len(value) == 43


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},  # another port of the same host
        {"Origin": "http://evil.test"},
        {"Origin": "http://127.0.0.1:1"},
    ],
)
async def test_forms_posted_from_other_pages_are_403(
    tenant: LiveServer, client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    state = await start_login(client, tenant)
    response = await client.post(
        f"{tenant.url}/u/login",
        data={"state": state, "demo": "bob@example.com"},
        headers=headers,
    )
    assert response.status_code == 403
    assert "not sent from the tenant login page" in response.text
    assert "set-cookie" not in response.headers


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "same-origin", "Origin": "null"},
        {"Origin": "null"},  # a no-referrer page's own form, in some browsers
        {},
    ],
)
async def test_the_tenants_own_form_still_logs_in(
    tenant: LiveServer, client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    state = await start_login(client, tenant)
    origin = {"Origin": tenant.url} if not headers else {}
    response = await client.post(
        f"{tenant.url}/u/login",
        data={"state": state, "demo": "bob@example.com"},
        headers={**headers, **origin},
    )
    assert "code" in redirect_params(response)


async def test_a_foreign_form_is_refused_before_its_body_is_read(
    tenant: LiveServer, client: httpx.AsyncClient
) -> None:
    response = await client.post(
        f"{tenant.url}/u/login",
        content=b"x" * 1_000_000,
        headers={
            "Sec-Fetch-Site": "cross-site",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    assert response.status_code == 403


@pytest.mark.parametrize("path", ["/authorize?client_id=quickstart-web", "/", "/nowhere"])
async def test_no_tenant_page_can_be_framed(
    tenant: LiveServer, client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(f"{tenant.url}{path}")
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["content-security-policy"] == "frame-ancestors 'none'"
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_the_login_page_can_be_framed_by_nobody(
    tenant: LiveServer, client: httpx.AsyncClient
) -> None:
    page = await client.get(authorize_url(tenant))
    assert page.status_code == 200
    assert page.headers["x-frame-options"] == "DENY"
