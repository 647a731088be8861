"""A real browser (Debian's Chromium through Playwright) against tenant, API and web app.

It also writes the screenshots the README shows (docs/screenshots/*.png).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Locator, Page, async_playwright, expect

from testing.live_stack import LiveStack, running_live_stack
from testing.login import ALICE
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


async def test_login_call_api_edit_profile_logout(browser: Browser, tmp_path: Path) -> None:
    with running_live_stack(tmp_path) as stack:
        await _visit(browser, stack)


async def _visit(browser: Browser, stack: LiveStack) -> None:
    context = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    page = await context.new_page()
    await page.goto(stack.app.url)
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Call a protected API")
    await shot(page, "home")

    await page.locator("#login").click()
    await page.locator('input[name="username"]').fill(ALICE[0])
    await page.locator('input[name="password"]').fill(ALICE[1])
    await shot(page, "login")
    await page.get_by_role("button", name="Continue").click()
    await expect(nav_link(page)).to_be_visible()

    await nav_link(page).click()
    await page.locator("#ping").click()
    await expect(page.locator("#api-result")).to_contain_text(
        "Your access token was successfully validated!"
    )
    await shot(page, "external-api")

    await open_account_menu(page)
    await page.get_by_role("menuitem", name="Profile").click()
    await expect(page.locator("#metadata")).to_be_visible()
    await page.locator("#theme").select_option("dark")
    await page.locator("#save-theme").click()
    await expect(page.get_by_role("status")).to_contain_text("Theme saved.")
    await page.reload()
    await expect(page.locator("#metadata")).to_contain_text('"theme": "dark"')
    await expect(page.locator("#theme")).to_have_value("dark")
    await shot(page, "profile")

    await open_account_menu(page)
    await page.get_by_role("menuitem", name="Log out").click()
    await expect(page.locator("#login")).to_be_visible()
    await expect(nav_link(page)).to_have_count(0)
    await context.close()
