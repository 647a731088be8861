"""A real browser (Debian's Chromium through Playwright) against tenant, API and web app.

At a phone's viewport (390 x 844) and with the keyboard where a user would use it.  It also
writes the screenshots the README shows (docs/screenshots/*.png).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    Locator,
    Page,
    Route,
    async_playwright,
    expect,
)

from app.pages import API_MESSAGES
from testing.live_stack import LiveStack, running_live_stack
from testing.login import ALICE, BOB
from testing.provider_stack import running_provider_stack
from tests.conftest import require

pytestmark = pytest.mark.browser

README_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
# The README's pictures are rewritten only when asked (UPDATE_SCREENSHOTS=1), so that a test
# run leaves the work tree clean; otherwise the same shots go to a temporary folder.
SCREENSHOTS = (
    README_SCREENSHOTS
    if os.environ.get("UPDATE_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "e2e-screenshots"
)
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
VIEWPORT = {"width": 390, "height": 844}
TAP_TARGET = 44  # px: the smallest comfortable touch target (WCAG 2.5.5)
DARK_BACKGROUND = "rgb(13, 17, 23)"  # --bg in the dark theme (static/app.css)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    with running_live_stack(tmp_path_factory.mktemp("tenant")) as stack:
        yield stack


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = require("chromium", "the end-to-end test drives a real browser")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    context = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    yield context
    await context.close()


async def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def nav_link(page: Page) -> Locator:
    main_nav = page.get_by_role("navigation", name="Main")
    return main_nav.get_by_role("link", name="External API", exact=True)


async def log_in(page: Page, stack: LiveStack, user: tuple[str, str] = ALICE) -> None:
    await page.goto(stack.app.url)
    await page.locator("#login").click()
    await page.locator('input[name="username"]').fill(user[0])
    await page.locator('input[name="password"]').fill(user[1])
    await page.get_by_role("button", name="Continue").click()
    await expect(nav_link(page)).to_be_visible()


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


async def height(locator: Locator) -> float:
    box = await locator.bounding_box()
    assert box is not None
    return box["height"]


async def focused_id(page: Page) -> str:
    return str(await page.evaluate("document.activeElement && document.activeElement.id"))


async def test_login_call_api_edit_profile_logout(
    stack: LiveStack, context: BrowserContext
) -> None:
    await _visit(context, stack)


async def test_the_same_with_dpop_bound_tokens(context: BrowserContext, tmp_path: Path) -> None:
    """AUTH0_DPOP=true, and the API requires DPoP: a Bearer token would fail the Ping."""
    with running_live_stack(
        tmp_path, app={"auth0_dpop": True}, api={"dpop_mode": "required"}
    ) as stack:
        await _visit(context, stack, screenshots=False)


async def _visit(context: BrowserContext, stack: LiveStack, *, screenshots: bool = True) -> None:
    page = await context.new_page()

    async def snap(name: str) -> None:
        if screenshots:
            await shot(page, name)

    await page.goto(stack.app.url)
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Call a protected API")
    await snap("home")
    header_logged_out = await height(page.locator(".site-header"))

    await page.locator("#login").click()
    await page.locator('input[name="username"]').fill(ALICE[0])
    await page.locator('input[name="password"]').fill(ALICE[1])
    await snap("login")
    await page.get_by_role("button", name="Continue").click()
    await expect(nav_link(page)).to_be_visible()
    assert await height(page.locator(".site-header")) == header_logged_out

    await nav_link(page).click()
    await page.locator("#ping").click()
    await expect(page.locator("#api-result")).to_contain_text(
        "Your access token was successfully validated!"
    )
    await expect(page.locator(".call-summary")).to_contain_text("GET /api/external → 200 in")
    await expect(page.locator("#api-result .json-key")).to_have_text('"msg"')
    await snap("external-api")

    await page.locator(".user-menu summary").click()
    await page.get_by_role("menuitem", name="Profile").click()
    await expect(page.locator("#metadata")).to_be_visible()
    await page.locator("#theme").select_option("dark")
    await page.locator("#save-theme").click()
    await expect(page.get_by_role("status")).to_contain_text("Theme saved.")
    # The saved theme applies at once, whatever the system prefers.
    await expect(page.locator("body")).to_have_css("background-color", DARK_BACKGROUND)
    await page.reload()
    await expect(page.get_by_role("status")).to_have_count(0)  # said once, not on reload
    await expect(page.locator("#metadata")).to_contain_text('"theme": "dark"')
    await expect(page.locator("#theme")).to_have_value("dark")
    await snap("profile")
    await page.goto(stack.app.url)
    await expect(page.locator("body")).to_have_css("background-color", DARK_BACKGROUND)

    await page.locator(".user-menu summary").click()
    await page.get_by_role("menuitem", name="Log out").click()
    await expect(page.locator("#login")).to_be_visible()
    await expect(nav_link(page)).to_have_count(0)


async def test_api_buttons_keep_focus_show_loading_and_wrap(
    stack: LiveStack, context: BrowserContext
) -> None:
    page = await context.new_page()
    await log_in(page, stack, BOB)
    await nav_link(page).click()
    release = asyncio.Event()

    async def hold(route: Route) -> None:  # the call stays in flight until released
        await release.wait()
        await route.continue_()

    await page.route("**/api/private-scoped", hold)
    await page.locator("#call-scoped").focus()
    await page.keyboard.press("Enter")
    await expect(page.locator("#call-scoped")).to_have_attribute("aria-busy", "true")
    await expect(page.locator("#api-result .loading")).to_contain_text(
        "Calling GET /api/private-scoped"
    )
    await expect(page.locator("#call-scoped")).to_be_enabled()  # busy, not disabled
    assert await focused_id(page) == "call-scoped"
    release.set()
    await expect(page.locator(".call-summary")).to_contain_text("GET /api/private-scoped → 200")
    await expect(page.locator("#call-scoped")).not_to_have_attribute("aria-busy", "true")
    assert await focused_id(page) == "call-scoped"  # still there for the next Enter

    await page.keyboard.press("Shift+Tab")
    await page.keyboard.press("Enter")  # "Call public", by keyboard only
    await expect(page.locator(".call-summary")).to_contain_text("GET /api/public → 200")
    assert await focused_id(page) == "call-public"
    # Highlighting builds text nodes: markup inside a JSON string stays text.
    hostile = '{"a": "<img src=x onerror=alert(1)>", "n": 1}'
    await page.locator("#api-result pre code").evaluate(
        "(code, text) => { code.textContent = text; highlightJson(code); }", hostile
    )
    await expect(page.locator("#api-result pre img")).to_have_count(0)
    await expect(page.locator("#api-result .json-string")).to_have_text(
        '"<img src=x onerror=alert(1)>"'
    )
    await expect(page.locator("#api-result .json-number")).to_have_text("1")
    # Nothing is wider than the phone's screen: long lines wrap.
    await page.locator("#api-result pre code").evaluate(
        "code => { code.textContent = 'x'.repeat(400); }"
    )
    widths = await page.evaluate(
        "[document.documentElement.scrollWidth,"
        " document.querySelector('#api-result pre').scrollWidth,"
        " document.querySelector('#api-result pre').clientWidth]"
    )
    assert widths[0] <= VIEWPORT["width"]
    assert widths[1] <= widths[2]


async def test_account_menu_keyboard_outside_click_and_tap_targets(
    stack: LiveStack, context: BrowserContext
) -> None:
    page = await context.new_page()
    await log_in(page, stack)
    for target in [page.locator(".user-menu summary"), *await page.locator(".nav-links a").all()]:
        box = await target.bounding_box()
        assert box is not None
        assert box["height"] >= TAP_TARGET
    summary = page.locator(".user-menu summary")
    menu = page.locator(".user-menu")
    await summary.focus()
    await page.keyboard.press("ArrowDown")
    await expect(menu).to_have_attribute("open", "")
    await expect(page.get_by_role("menuitem", name="Profile")).to_be_focused()
    await page.keyboard.press("ArrowDown")
    await expect(page.get_by_role("menuitem", name="Log out")).to_be_focused()
    await page.keyboard.press("ArrowDown")  # wraps around
    await expect(page.get_by_role("menuitem", name="Profile")).to_be_focused()
    await page.keyboard.press("End")
    await expect(page.get_by_role("menuitem", name="Log out")).to_be_focused()
    await page.keyboard.press("Escape")
    await expect(menu).not_to_have_attribute("open", "")
    await expect(summary).to_be_focused()

    await summary.click()
    await expect(menu).to_have_attribute("open", "")
    await page.locator(".site-footer").click()  # anywhere outside the menu
    await expect(menu).not_to_have_attribute("open", "")

    await page.goto(f"{stack.app.url}/no-such-page")
    await expect(page.locator("#error-action")).to_have_text("Home")  # not "Log in again"


async def test_a_wrong_password_reloads_without_resubmitting(
    stack: LiveStack, context: BrowserContext
) -> None:
    page = await context.new_page()
    await page.goto(stack.app.url)
    await page.locator("#login").click()
    await page.locator('input[name="username"]').fill(ALICE[0])
    await page.locator('input[name="password"]').fill("not-her-password")
    await page.get_by_role("button", name="Continue").click()
    await expect(page.get_by_role("alert")).to_contain_text("Wrong email or password")
    assert "/u/login?state=" in page.url  # a GET page: reload cannot repost the password
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    await page.reload()
    await expect(page.get_by_role("alert")).to_have_count(0)
    await expect(page.locator('input[name="username"]')).to_be_visible()
    assert dialogs == []


def answer(status: int, body: dict[str, str]) -> Callable[[Route], Awaitable[None]]:
    """A route handler answering every request with `status` and a JSON `body`."""

    async def fulfill(route: Route) -> None:
        await route.fulfill(status=status, json=body)

    return fulfill


async def test_external_api_page_explains_each_failure(
    stack: LiveStack, context: BrowserContext
) -> None:
    """The page's script picks the message by the same rules as the no-JavaScript path;
    the answers are scripted in the browser so each status reaches the page as it would."""
    page = await context.new_page()
    await log_in(page, stack)
    await nav_link(page).click()
    for status, body, code in FAILURES:
        await page.unroute("**/api/external")
        await page.route("**/api/external", answer(status, body))
        await page.locator("#ping").click()
        alert = page.locator(f'#api-result [data-error="{code}"]')
        await expect(alert).to_contain_text(API_MESSAGES[code])
        await expect(page.locator(".call-summary")).to_contain_text(f"GET /api/external → {status}")
        log_in_again = alert.get_by_role("link", name="Log in again")
        await expect(log_in_again).to_have_count(1 if code == "login_required" else 0)


async def test_visit_with_another_openid_provider(context: BrowserContext) -> None:
    """A provider whose issuer has no trailing slash, with its own endpoint paths, RP-initiated
    logout and no Management API: log in, ping the API, see the profile, log out home."""
    with running_provider_stack(trailing_slash=False) as stack:
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
        await expect(page.locator("#grant-metadata")).to_have_count(0)  # no Auth0 to ask
        await expect(page.get_by_role("heading", level=1)).to_contain_text("Pat Example")

        await open_account_menu(page)
        await page.get_by_role("menuitem", name="Log out").click()
        await expect(page.locator("#login")).to_be_visible()
        assert page.url == f"{stack.app.url}/"
        assert len(stack.provider.logouts) == 1  # the provider's own session ended too
