"""A real browser (Debian's Chromium through Playwright) against tenant, API and web app.

It also writes the screenshots the README shows (docs/screenshots/*.png).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from playwright.async_api import Browser, Locator, Page, Route, async_playwright, expect

from app.pages import API_MESSAGES
from testing.live_stack import LiveStack, running_live_stack
from testing.login import ALICE
from testing.provider_stack import running_provider_stack
from tests.conftest import require

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1100, "height": 760}


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = require("chromium", "the end-to-end test drives a real browser")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


async def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def nav_link(page: Page) -> Locator:
    main_nav = page.get_by_role("navigation", name="Main")
    return main_nav.get_by_role("link", name="External API", exact=True)


async def open_account_menu(page: Page) -> None:
    await page.locator(".user-menu summary").click()


# What the API (or the proxy in front of it) answers, and which message the page shows.
FAILURES = [
    (401, {"error": "invalid_token"}, "login_required"),
    (403, {"error": "insufficient_scope"}, "forbidden"),
    (502, {"error": "bad_gateway"}, "api_down"),
    (503, {"error": "temporarily_unavailable"}, "issuer_unavailable"),
    (504, {"error": "gateway_timeout"}, "api_timeout"),
    (500, {"error": "server_error"}, "api_error"),
]


async def test_login_call_api_edit_profile_logout(browser: Browser, tmp_path: Path) -> None:
    with running_live_stack(tmp_path) as stack:
        await _visit(browser, stack)


async def test_the_same_with_dpop_bound_tokens(browser: Browser, tmp_path: Path) -> None:
    """AUTH0_DPOP=true, and the API requires DPoP: a Bearer token would fail the Ping."""
    with running_live_stack(
        tmp_path, app={"auth0_dpop": True}, api={"dpop_mode": "required"}
    ) as stack:
        await _visit(browser, stack, screenshots=False)


async def _visit(browser: Browser, stack: LiveStack, *, screenshots: bool = True) -> None:
    context = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    page = await context.new_page()

    async def snap(name: str) -> None:
        if screenshots:
            await shot(page, name)

    await page.goto(stack.app.url)
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Call a protected API")
    await snap("home")

    await page.locator("#login").click()
    await page.locator('input[name="username"]').fill(ALICE[0])
    await page.locator('input[name="password"]').fill(ALICE[1])
    await snap("login")
    await page.get_by_role("button", name="Continue").click()
    await expect(nav_link(page)).to_be_visible()

    await nav_link(page).click()
    await page.locator("#ping").click()
    await expect(page.locator("#api-result")).to_contain_text(
        "Your access token was successfully validated!"
    )
    await snap("external-api")

    await open_account_menu(page)
    await page.get_by_role("menuitem", name="Profile").click()
    await expect(page.locator("#metadata")).to_be_visible()
    await page.locator("#theme").select_option("dark")
    await page.locator("#save-theme").click()
    await expect(page.get_by_role("status")).to_contain_text("Theme saved.")
    await page.reload()
    await expect(page.locator("#metadata")).to_contain_text('"theme": "dark"')
    await expect(page.locator("#theme")).to_have_value("dark")
    await snap("profile")

    await open_account_menu(page)
    await page.get_by_role("menuitem", name="Log out").click()
    await expect(page.locator("#login")).to_be_visible()
    await expect(nav_link(page)).to_have_count(0)
    await context.close()


def answer(status: int, body: dict[str, str]) -> Callable[[Route], Awaitable[None]]:
    """A route handler answering every request with `status` and a JSON `body`."""

    async def fulfill(route: Route) -> None:
        await route.fulfill(status=status, json=body)

    return fulfill


async def test_external_api_page_explains_each_failure(browser: Browser, tmp_path: Path) -> None:
    """The page's script picks the message by the same rules as the no-JavaScript path;
    the answers are scripted in the browser so each status reaches the page as it would."""
    with running_live_stack(tmp_path) as stack:
        context = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
        page = await context.new_page()
        await page.goto(f"{stack.app.url}/login?returnTo=/external-api")
        await page.locator('input[name="username"]').fill(ALICE[0])
        await page.locator('input[name="password"]').fill(ALICE[1])
        await page.get_by_role("button", name="Continue").click()
        await expect(page.locator("#ping")).to_be_visible()
        for status, body, code in FAILURES:
            await page.unroute("**/api/external")
            await page.route("**/api/external", answer(status, body))
            await page.locator("#ping").click()
            alert = page.locator(f'#api-result [data-error="{code}"]')
            await expect(alert).to_contain_text(API_MESSAGES[code])
            log_in_again = alert.get_by_role("link", name="Log in again")
            await expect(log_in_again).to_have_count(1 if code == "login_required" else 0)
        await context.close()


async def test_visit_with_another_openid_provider(browser: Browser) -> None:
    """A provider whose issuer has no trailing slash, with its own endpoint paths, RP-initiated
    logout and no Management API: log in, ping the API, see the profile, log out home."""
    with running_provider_stack(trailing_slash=False) as stack:
        context = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
        page = await context.new_page()
        await page.goto(stack.app.url)
        await page.locator("#login").click()
        await page.locator("#approve").click()  # the provider's sign-in page
        await expect(nav_link(page)).to_be_visible()

        await nav_link(page).click()
        await page.locator("#ping").click()
        await expect(page.locator("#api-result")).to_contain_text(
            "Your access token was successfully validated!"
        )

        await open_account_menu(page)
        await page.get_by_role("menuitem", name="Profile").click()
        await expect(page.locator("#metadata-unavailable")).to_be_visible()
        await expect(page.get_by_role("heading", level=1)).to_contain_text("Pat Example")

        await open_account_menu(page)
        await page.get_by_role("menuitem", name="Log out").click()
        await expect(page.locator("#login")).to_be_visible()
        assert page.url == f"{stack.app.url}/"
        assert len(stack.provider.logouts) == 1  # the provider's own session ended too
        await context.close()
