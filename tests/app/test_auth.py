"""Login, callback and logout against the real dev tenant, and their attacks."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from app.auth import logout_url, safe_return_to
from app.config import SESSION_COOKIE
from testing.live_stack import LiveStack, app_settings, csrf_from, running_live_stack
from testing.login import ALICE, AUDIENCE, submit_login_form
from testing.sessions import session_record


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/external-api", "/external-api"),
        ("/profile?tab=1", "/profile?tab=1"),
        ("https://evil.test", "/"),
        ("//evil.test", "/"),
        ("/\\evil.test", "/"),
        ("javascript:alert(1)", "/"),
        ("/ok\r\nSet-Cookie: x=1", "/"),
        ("", "/"),
        (None, "/"),
    ],
)
def test_return_to_accepts_only_same_origin_paths(value: str | None, expected: str) -> None:
    assert safe_return_to(value) == expected


async def test_login_redirects_with_pkce_state_nonce_and_audience(stack: LiveStack) -> None:
    async with stack.client() as client:
        response = await client.get("/login")
    assert response.status_code == 302
    url = urlsplit(response.headers["location"])
    query = {key: values[0] for key, values in parse_qs(url.query).items()}
    assert f"{url.scheme}://{url.netloc}/" == stack.issuer
    assert query["code_challenge_method"] == "S256"
    assert query["code_challenge"]
    assert query["state"]
    assert query["nonce"]
    assert query["audience"] == AUDIENCE
    assert "offline_access" in query["scope"].split()
    assert query["redirect_uri"] == f"{stack.app.url}/callback"


async def test_login_then_callback_returns_to_the_page_asked_for(stack: LiveStack) -> None:
    async with stack.client() as client:
        done = await stack.login(client, return_to="/external-api")
        assert done.status_code == 303
        assert done.headers["location"] == "/external-api"
        page = await client.get("/external-api")
    assert page.status_code == 200
    assert "Ping API" in page.text


async def test_the_session_keeps_the_claims_once(stack: LiveStack) -> None:
    async with stack.client() as client:
        await stack.login(client)
        record = await session_record(stack, client)
    assert record["user"]["sub"].startswith("auth0|")
    assert "email" in record["user"]
    assert "nonce" not in record["user"]  # protocol claims are not profile data
    assert "id_token_claims" not in record
    # The dev tenant publishes end_session_endpoint: logout sends the ID token back.
    assert record["id_token"].count(".") == 2


@pytest.mark.parametrize("target", ["https://evil.test", "//evil.test", "/\\evil.test"])
async def test_login_never_redirects_off_site(stack: LiveStack, target: str) -> None:
    async with stack.client() as client:
        done = await stack.login(client, return_to=target)
    assert done.status_code == 303
    assert done.headers["location"] == "/"


async def test_tampered_state_shows_the_error_page(stack: LiveStack) -> None:
    async with stack.client() as client:
        started = await client.get("/login")
        back = await submit_login_form(client, started.headers["location"], *ALICE)
        url = urlsplit(back.headers["location"])
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        forged = await client.get(
            "/callback", params={"code": query["code"], "state": query["state"] + "x"}
        )
    assert forged.status_code == 400
    assert "did not match" in forged.text
    assert "Traceback" not in forged.text
    assert query["code"] not in forged.text


async def test_callback_without_a_login_is_a_state_mismatch(stack: LiveStack) -> None:
    async with stack.client() as client:
        response = await client.get("/callback", params={"code": "abc", "state": "def"})
    assert response.status_code == 400
    assert 'id="error-code">state_mismatch<' in response.text


async def test_tenant_error_is_shown_escaped(stack: LiveStack) -> None:
    async with stack.client() as client:
        await client.get("/login")
        response = await client.get(
            "/callback",
            params={"error": "access_denied", "error_description": "<script>x()</script>"},
        )
    assert response.status_code == 400
    assert "Access was denied" in response.text
    assert "<script>x()" not in response.text


async def test_session_id_changes_at_login_and_the_old_one_is_dead(stack: LiveStack) -> None:
    async with stack.client() as client:
        await client.get("/login")
        before = client.cookies.get(SESSION_COOKIE)
        assert before
        await stack.login(client)
        after = client.cookies.get(SESSION_COOKIE)
    assert after
    assert after != before
    async with stack.client() as attacker:
        attacker.cookies.set(SESSION_COOKIE, before)
        response = await attacker.get("/external-api")
    assert response.status_code == 303  # the fixated id is not logged in
    assert response.headers["location"].startswith("/login")


async def test_logout_needs_the_csrf_token(stack: LiveStack) -> None:
    async with stack.client() as client:
        await stack.login(client)
        missing = await client.post("/logout")
        wrong = await client.post("/logout", data={"csrf_token": "wrong"})
        still_in = await client.get("/external-api")
    assert missing.status_code == 403
    assert wrong.status_code == 403
    assert still_in.status_code == 200


async def test_logout_clears_the_session_and_goes_to_the_tenant(stack: LiveStack) -> None:
    async with stack.client() as client:
        await stack.login(client)
        page = await client.get("/")
        old_cookie = client.cookies.get(SESSION_COOKIE)
        response = await client.post("/logout", data={"csrf_token": csrf_from(page)})
        assert response.status_code == 303
        url = urlsplit(response.headers["location"])
        query = parse_qs(url.query)
        # The dev tenant publishes end_session_endpoint: standard RP-initiated logout.
        assert f"{url.scheme}://{url.netloc}{url.path}" == f"{stack.issuer}oidc/logout"
        assert query["post_logout_redirect_uri"] == [f"{stack.app.url}/"]
        assert query["client_id"] == ["quickstart-web"]
        assert query["id_token_hint"][0].count(".") == 2
        at_tenant = await client.get(response.headers["location"])
        assert at_tenant.status_code == 302
        assert at_tenant.headers["location"] == f"{stack.app.url}/"
        after = await client.get("/external-api")
    assert after.status_code == 303
    async with stack.client() as replay:
        replay.cookies.set(SESSION_COOKIE, old_cookie or "")
        assert (await replay.get("/external-api")).status_code == 303


def test_logout_uses_end_session_endpoint_for_other_providers() -> None:
    settings = app_settings("https://idp.example.org", "http://localhost:3001", "https://app.test")
    metadata = {"end_session_endpoint": "https://idp.example.org/logout"}
    url = urlsplit(logout_url(settings, metadata, "id.token.value"))
    query = parse_qs(url.query)
    assert url.netloc == "idp.example.org"
    assert url.path == "/logout"
    assert query["post_logout_redirect_uri"] == ["https://app.test/"]
    assert query["id_token_hint"] == ["id.token.value"]


def test_logout_uses_v2_logout_on_auth0_even_with_end_session_endpoint() -> None:
    settings = app_settings("https://t.eu.auth0.com", "http://localhost:3001", "https://app.test")
    metadata = {"end_session_endpoint": "https://t.eu.auth0.com/oidc/logout"}
    assert logout_url(settings, metadata, "x").startswith("https://t.eu.auth0.com/v2/logout?")


def test_logout_without_end_session_endpoint_goes_home_outside_auth0() -> None:
    """Nothing can end such a provider's session: never a guessed Auth0 URL (its 404)."""
    settings = app_settings("https://idp.example.org", "http://localhost:3001", "https://app.test")
    assert logout_url(settings, {}, "x") == "https://app.test/"
    assert (
        logout_url(settings, {"end_session_endpoint": "javascript:x"}, "x") == "https://app.test/"
    )


async def test_tenant_down_at_login_is_a_clear_error(tmp_path: Path) -> None:
    with running_live_stack(tmp_path) as stack:
        stack.tenant.stop()
        async with httpx.AsyncClient(base_url=stack.app.url) as client:
            response = await client.get("/login")
    assert response.status_code == 502
    assert "could not be reached" in response.text
    assert f'id="error-issuer">{stack.issuer}<' in response.text  # which tenant was tried
    # honcho (./scripts/dev) stops all three when one dies: no advice to start just one.
    assert "honcho start" not in response.text
    assert "restart ./scripts/dev" in response.text
