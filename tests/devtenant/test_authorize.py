"""/authorize and the login form: validation before any redirect, sessions, prompts."""

from __future__ import annotations

import re

import httpx
import pytest

from testing.login import LOGIN_STATE, submit_login_form
from testing.servers import LiveServer
from tests.devtenant.helpers import (
    ALICE,
    APP,
    CALLBACK,
    SPA,
    authorize_url,
    login_code,
    pkce_pair,
    redirect_params,
)


async def test_login_page_lists_demo_users_and_posts_to_u_login(
    tenant: LiveServer, client: httpx.AsyncClient
) -> None:
    page = await client.get(authorize_url(tenant))
    assert page.status_code == 200
    assert '<form method="post" action="/u/login">' in page.text
    assert 'name="username"' in page.text
    assert 'name="password"' in page.text
    assert "alice@example.com" in page.text
    assert "development only" in page.text.lower()
    assert "alice-demo-password" not in page.text


async def test_demo_button_logs_in_without_typing(
    tenant: LiveServer, client: httpx.AsyncClient
) -> None:
    page = await client.get(authorize_url(tenant))
    match = LOGIN_STATE.search(page.text)
    assert match
    response = await client.post(
        f"{tenant.url}/u/login", data={"state": match.group(1), "demo": "bob@example.com"}
    )
    assert "code" in redirect_params(response)


async def test_login_sets_an_httponly_lax_session_cookie(
    tenant: LiveServer, client: httpx.AsyncClient
) -> None:
    response = await submit_login_form(client, authorize_url(tenant), *ALICE)
    cookie = response.headers["set-cookie"].lower()
    assert cookie.startswith("devtenant_session=")
    assert "httponly" in cookie
    assert "samesite=lax" in cookie


async def test_wrong_password_redirects_to_the_page_that_says_so_once(
    tenant: LiveServer, client: httpx.AsyncClient
) -> None:
    response = await submit_login_form(client, authorize_url(tenant), ALICE[0], "not-her-password")
    # Post/Redirect/Get: reloading the error page never asks to resubmit the password.
    assert response.status_code == 303
    assert response.headers["location"].startswith("/u/login?state=")
    page = await client.get(f"{tenant.url}{response.headers['location']}")
    assert page.status_code == 200
    assert "Wrong email or password" in page.text
    assert f'value="{ALICE[0]}"' in page.text  # the email is kept, the password is not
    assert "not-her-password" not in page.text
    assert LOGIN_STATE.search(page.text)
    reloaded = await client.get(f"{tenant.url}{response.headers['location']}")
    assert "Wrong email or password" not in reloaded.text
    state = LOGIN_STATE.search(reloaded.text)
    assert state
    after = await client.post(
        f"{tenant.url}/u/login", data={"state": state.group(1), "demo": ALICE[0]}
    )
    assert "code" in redirect_params(after)  # the same transaction still logs in


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_an_expired_login_page_links_back_to_the_application(
    tenant: LiveServer, client: httpx.AsyncClient, method: str
) -> None:
    params = {"state": "no-such-transaction", "client_id": "quickstart-web"}
    if method == "GET":
        page = await client.get(f"{tenant.url}/u/login", params=params)
    else:
        page = await client.post(f"{tenant.url}/u/login", data=params)
    assert page.status_code == 400
    assert "This login page has expired" in page.text
    back = re.search(r'href="([^"]+)" id="back"', page.text)
    assert back, "no way back to the application"
    assert back.group(1) == f"{APP}/"  # a registered logout URL, never a request parameter


async def test_an_expired_login_of_an_unknown_client_offers_no_link(
    tenant: LiveServer, client: httpx.AsyncClient
) -> None:
    params = {"state": "x", "client_id": "https://evil.example"}
    page = await client.get(f"{tenant.url}/u/login", params=params)
    assert "This login page has expired" in page.text
    assert 'id="back"' not in page.text
    assert "evil.example" not in page.text


async def test_second_authorize_is_silent_with_a_session(
    tenant: LiveServer, client: httpx.AsyncClient
) -> None:
    await login_code(client, tenant)
    again = await client.get(authorize_url(tenant, state="second"))
    assert redirect_params(again)["state"] == "second"


async def test_prompt_login_shows_the_page_despite_a_session(
    tenant: LiveServer, client: httpx.AsyncClient
) -> None:
    await login_code(client, tenant)
    page = await client.get(authorize_url(tenant, prompt="login"))
    assert page.status_code == 200


async def test_prompt_none_without_session_returns_login_required(
    tenant: LiveServer, client: httpx.AsyncClient
) -> None:
    response = await client.get(authorize_url(tenant, prompt="none"))
    query = redirect_params(response)
    assert query["error"] == "login_required"
    assert query["state"] == "the-state"


@pytest.mark.parametrize(
    "overrides",
    [
        {"redirect_uri": "https://evil.example/callback"},
        {"redirect_uri": None},
        {"client_id": "nobody"},
        {"client_id": None},
        {"state": "x" * 10_000},
    ],
)
async def test_bad_client_or_redirect_uri_gets_an_error_page_never_a_redirect(
    tenant: LiveServer, client: httpx.AsyncClient, overrides: dict[str, str | None]
) -> None:
    response = await client.get(authorize_url(tenant, **overrides))
    assert response.status_code == 400
    assert "location" not in response.headers
    assert "text/html" in response.headers["content-type"]


async def test_repeated_parameter_is_rejected(
    tenant: LiveServer, client: httpx.AsyncClient
) -> None:
    response = await client.get(authorize_url(tenant) + "&client_id=quickstart-spa")
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"audience": "https://unknown/api"}, "access_denied"),
        ({"client_id": SPA}, "invalid_request"),  # a public client without PKCE
        ({"code_challenge": "a" * 43, "code_challenge_method": "plain"}, "invalid_request"),
        ({"prompt": "bogus"}, "invalid_request"),
    ],
)
async def test_errors_after_validation_go_back_to_the_client(
    tenant: LiveServer, client: httpx.AsyncClient, overrides: dict[str, str], error: str
) -> None:
    query = redirect_params(await client.get(authorize_url(tenant, **overrides)))
    assert query["error"] == error
    assert query["state"] == "the-state"


async def test_public_client_with_pkce_gets_the_login_page(
    tenant: LiveServer, client: httpx.AsyncClient
) -> None:
    _, challenge = pkce_pair()
    page = await client.get(
        authorize_url(tenant, client_id=SPA, code_challenge=challenge, code_challenge_method="S256")
    )
    assert page.status_code == 200


async def test_unknown_login_transaction_is_an_error_page(
    tenant: LiveServer, client: httpx.AsyncClient
) -> None:
    response = await client.post(
        f"{tenant.url}/u/login",
        data={"state": "made-up", "username": ALICE[0], "password": ALICE[1]},
    )
    assert response.status_code == 400
    assert "location" not in response.headers


async def test_malformed_login_body_is_an_error_page(
    tenant: LiveServer, client: httpx.AsyncClient
) -> None:
    response = await client.post(
        f"{tenant.url}/u/login",
        content=b"state=%ff%fe&username=x",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400
    assert CALLBACK not in response.text
