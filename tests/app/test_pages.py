"""The pages over real HTTP, with the whole stack: tenant, API and web app."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from testing.live_stack import LiveStack, csrf_from, running_live_stack
from testing.login import BOB


async def test_home_for_visitors_offers_login_and_no_api_link(stack: LiveStack) -> None:
    async with stack.client() as client:
        page = await client.get("/")
    assert page.status_code == 200
    assert 'id="login"' in page.text
    assert 'href="/external-api"' not in page.text
    assert "app_session" not in page.headers.get("set-cookie", "")  # no session for visitors


async def test_security_headers(stack: LiveStack) -> None:
    async with stack.client() as client:
        page = await client.get("/")
        css = await client.get("/static/app.css")
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"]
    assert page.headers["cache-control"] == "no-store"
    assert css.status_code == 200
    assert "no-store" not in css.headers.get("cache-control", "")
    assert "<script>" not in page.text  # every script is a static file


@pytest.mark.parametrize("path", ["/external-api", "/profile"])
async def test_private_pages_send_visitors_to_login(stack: LiveStack, path: str) -> None:
    async with stack.client() as client:
        response = await client.get(path)
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?returnTo={path}"


async def test_logged_in_layout_has_api_link_and_avatar_menu(alice: httpx.AsyncClient) -> None:
    page = await alice.get("/")
    assert 'href="/external-api"' in page.text
    assert 'href="/profile"' in page.text
    assert 'action="/logout"' in page.text
    assert 'id="login"' not in page.text


async def test_proxy_calls_the_api_with_the_session_token(alice: httpx.AsyncClient) -> None:
    response = await alice.get("/api/external")
    assert response.status_code == 200
    assert response.json() == {"msg": "Your access token was successfully validated!"}
    scoped = await alice.get("/api/private-scoped")
    assert scoped.status_code == 200


async def test_proxy_without_a_session_is_401(stack: LiveStack) -> None:
    async with stack.client() as client:
        private = await client.get("/api/external")
        public = await client.get("/api/public")
    assert private.status_code == 401
    assert public.status_code == 200


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ("external", "Your access token was successfully validated!"),
        ("public", "Hello from a public endpoint!"),
        ("private-scoped", "scope of read:messages"),
    ],
)
async def test_no_js_fallback_calls_the_api_server_side(
    alice: httpx.AsyncClient, endpoint: str, expected: str
) -> None:
    page = await alice.get("/external-api")
    result = await alice.post(
        "/external-api", data={"csrf_token": csrf_from(page), "endpoint": endpoint}
    )
    assert result.status_code == 200
    assert expected in result.text
    # Which call produced the result: method, path, status and time.
    summary = re.search(
        r'<code>GET (/api/[a-z-]+)</code> → <strong class="call-status">(\d+)</strong> in \d+ ms',
        result.text,
    )
    assert summary, "the result does not say which call produced it"
    assert summary.groups() == (f"/api/{endpoint}", "200")
    assert "<code data-json>" in result.text  # highlighted by app.js, no CDN


async def test_no_js_fallback_needs_csrf(alice: httpx.AsyncClient) -> None:
    response = await alice.post("/external-api", data={"endpoint": "external"})
    assert response.status_code == 403


async def test_profile_shows_claims_and_metadata(alice: httpx.AsyncClient) -> None:
    page = await alice.get("/profile")
    assert page.status_code == 200
    assert "alice@example.com" in page.text
    assert 'id="metadata"' in page.text
    assert "metadata is unavailable" not in page.text
    assert "&#34;sub&#34;: &#34;auth0|" in page.text or "&#34;sub&#34;" in page.text


async def test_theme_is_saved_applied_and_announced_once(stack: LiveStack) -> None:
    async with stack.client() as bob:
        await stack.login(bob, BOB)
        page = await bob.get("/profile")
        assert "data-theme" not in page.text.split(">", 2)[1]  # the system's preference
        saved = await bob.post("/profile", data={"csrf_token": csrf_from(page), "theme": "dark"})
        assert saved.status_code == 303
        assert saved.headers["location"] == "/profile"
        shown = await bob.get(saved.headers["location"])
        reloaded = await bob.get(saved.headers["location"])
        home = await bob.get("/")
    assert "Theme saved." in shown.text
    assert "Theme saved." not in reloaded.text  # a flash: a reload does not repeat it
    assert '<option value="dark" selected>' in reloaded.text
    assert "&#34;theme&#34;: &#34;dark&#34;" in reloaded.text
    for applied in (shown, reloaded, home):  # every page, not just the profile
        assert '<html lang="en" data-theme="dark">' in applied.text


async def test_theme_form_needs_csrf_and_a_known_theme(alice: httpx.AsyncClient) -> None:
    no_token = await alice.post("/profile", data={"theme": "dark"})
    assert no_token.status_code == 403
    page = await alice.get("/profile")
    odd = await alice.post("/profile", data={"csrf_token": csrf_from(page), "theme": "<b>x"})
    assert odd.headers["location"] == "/profile"
    after = await alice.get("/profile")
    assert "The theme could not be saved." in after.text
    assert "<b>x" not in after.text


async def test_error_page_maps_codes_and_never_echoes_input(stack: LiveStack) -> None:
    async with stack.client() as client:
        known = await client.get("/error", params={"code": "access_denied"})
        odd = await client.get("/error", params={"code": "<script>alert(1)</script>"})
        missing = await client.get("/no-such-page")
    assert "Access was denied" in known.text
    assert "<script>alert" not in odd.text
    assert 'id="error-code">unknown<' in odd.text
    assert missing.status_code == 404
    assert "does not exist" in missing.text


def error_buttons(page: httpx.Response) -> list[str]:
    """The error page's button labels, main one first."""
    return re.findall(r'<a class="button[^"]*" href="[^"]*"[^>]*>([^<]+)</a>', page.text)


async def test_error_page_main_button_fits_the_situation(
    stack: LiveStack, alice: httpx.AsyncClient
) -> None:
    async with stack.client() as visitor:
        denied = await visitor.get("/error", params={"code": "access_denied"})
        down = await visitor.get("/error", params={"code": "tenant_unavailable"})
        missing = await visitor.get("/no-such-page")
    missing_logged_in = await alice.get("/no-such-page")
    assert error_buttons(denied) == ["Log in again", "Home"]
    assert error_buttons(down) == ["Try again", "Home"]
    assert error_buttons(missing) == ["Home", "Log in"]
    assert error_buttons(missing_logged_in) == ["Home"]  # not "Log in again" when logged in
    assert stack.issuer in denied.text  # a login error names the tenant it talked to
    assert "error-issuer" not in missing.text


async def test_profile_without_management_api_says_metadata_unavailable(tmp_path: Path) -> None:
    # An issuer whose Management API is not reachable: the app must still render the page.
    with running_live_stack(tmp_path) as stack:
        async with stack.client() as client:
            await stack.login(client)
            stack.tenant.stop()  # the Management API lives on the tenant
            page = await client.get("/profile")
    assert page.status_code == 200
    assert "metadata is unavailable" in page.text


async def test_api_down_has_a_clear_message(tmp_path: Path) -> None:
    with running_live_stack(tmp_path) as stack:
        async with stack.client() as client:
            await stack.login(client)
            page = await client.get("/external-api")
            stack.api.stop()
            result = await client.post(
                "/external-api", data={"csrf_token": csrf_from(page), "endpoint": "external"}
            )
            proxied = await client.get("/api/external")
    assert "uv run honcho start api" in result.text
    assert proxied.status_code == 502


async def test_no_audience_shows_a_warning(tmp_path: Path) -> None:
    with running_live_stack(tmp_path, app={"auth0_audience": ""}) as stack:
        async with stack.client() as client:
            await stack.login(client)
            page = await client.get("/external-api")
    assert "No audience is configured" in page.text
