"""The tenant stops: logged-in users keep browsing while their access tokens are valid, a
token that needs refreshing gets a clear 502 (not a login loop), logging in shows a clear
error page, and all of it works again once the tenant is back."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from app.templating import ERROR_MESSAGES
from testing.live_stack import LiveStack, running_live_stack
from testing.login import BOB
from testing.sessions import age_access_tokens

PAGES = ("/", "/external-api", "/profile")
TENANT_DOWN_TITLE = ERROR_MESSAGES["tenant_unavailable"][0]


async def start_login(system: LiveStack) -> httpx.Response:
    """A new visitor clicks Log in, following the app's own redirects (not the tenant's)."""
    async with system.client() as visitor:
        answer = await visitor.get("/login", params={"returnTo": "/external-api"})
        location = answer.headers.get("location", "")
        if answer.status_code == 302 and location.startswith(system.tenant.url):
            try:
                return await visitor.get(location)
            except httpx.TransportError:
                pytest.fail("/login sent the browser to a tenant that is down, not to a page")
        return answer


async def test_users_keep_browsing_and_login_shows_a_clear_error(tmp_path: Path) -> None:
    with running_live_stack(tmp_path) as system:
        async with system.client() as alice, system.client() as bob:
            await system.login(alice)
            await system.login(bob, BOB)
            for browser in (alice, bob):  # the API fetches the keys now, while it can
                assert (await browser.get("/api/external")).status_code == 200

            system.tenant.stop()
            for path in PAGES:
                assert (await alice.get(path)).status_code == 200, path
            assert (await alice.get("/api/external")).status_code == 200

            await age_access_tokens(system, bob)  # bob's token needs refreshing now
            refused = await bob.get("/api/external")
            assert refused.status_code == 502
            assert refused.json()["error"] == "bad_gateway"
            assert (await bob.get("/external-api")).status_code == 200  # pages still render

            system.tenant.start()
            login = await start_login(system)
            assert login.status_code == 200  # the tenant's login form
            assert (await alice.get("/api/external")).status_code == 200
            async with system.client() as carol:
                await system.login(carol, return_to="/external-api")
                assert (await carol.get("/api/external")).status_code == 200


async def test_login_while_the_tenant_is_down_shows_a_clear_error_page(tmp_path: Path) -> None:
    with running_live_stack(tmp_path) as system:
        async with system.client() as alice:
            await system.login(alice)  # discovery is cached now, as in any running app
        system.tenant.stop()
        login = await start_login(system)
        assert login.status_code == 502
        assert TENANT_DOWN_TITLE in login.text


async def test_login_before_the_tenant_was_ever_reached_shows_a_clear_error_page(
    tmp_path: Path,
) -> None:
    with running_live_stack(tmp_path) as system:
        system.tenant.stop()  # the app has not fetched discovery yet
        login = await start_login(system)
        assert login.status_code == 502
        assert TENANT_DOWN_TITLE in login.text
        system.tenant.start()
        assert (await start_login(system)).status_code == 200


async def test_a_refresh_after_the_tenant_returns_works(tmp_path: Path) -> None:
    with running_live_stack(tmp_path) as system:
        async with system.client() as bob:
            await system.login(bob, BOB)
            system.tenant.stop()
            system.tenant.start()
            await age_access_tokens(system, bob)
            assert (await bob.get("/api/external")).status_code == 200
