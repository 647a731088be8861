"""Access tokens expire while the user works: the token manager refreshes them and the user
notices nothing.  A refresh token the tenant has revoked sends the user to log in again,
and the login link keeps where they were (`returnTo`)."""

from __future__ import annotations

from pathlib import Path

import httpx

from app.pages import API_MESSAGES
from app.session_tokens import REFRESH_KEY
from testing.live_stack import LiveStack, csrf_from, running_live_stack
from testing.sessions import age_access_tokens, session_record

# Shorter than the token manager's minimum remaining lifetime (60 s): every use refreshes.
SHORT_LIFETIME = 30
CALLS = 5
WEB_CLIENT = ("quickstart-web", "quickstart-web-dev-secret")


async def refresh_token(system: LiveStack, browser: httpx.AsyncClient) -> str:
    return str((await session_record(system, browser))[REFRESH_KEY])


async def test_expiring_tokens_are_refreshed_without_the_user_noticing(tmp_path: Path) -> None:
    tenant = {"devtenant_access_token_lifetime": SHORT_LIFETIME}
    with running_live_stack(tmp_path, tenant=tenant) as system:
        async with system.client() as browser:
            await system.login(browser, return_to="/external-api")
            refresh_tokens = [await refresh_token(system, browser)]
            for _ in range(CALLS):
                answer = await browser.get("/api/external")
                assert answer.status_code == 200
                assert "successfully validated" in answer.json()["msg"]
                assert (await browser.get("/external-api")).status_code == 200
                refresh_tokens.append(await refresh_token(system, browser))
            # Each call refreshed (the tenant rotates the refresh token at every use).
            assert len(set(refresh_tokens)) == CALLS + 1


async def steal_and_use_refresh_token(system: LiveStack, browser: httpx.AsyncClient) -> None:
    """Use the session's refresh token elsewhere first: the tenant rotates it, so the app's
    copy is now a reused token, and the tenant revokes the whole family when it comes."""
    form = {"grant_type": "refresh_token", "refresh_token": await refresh_token(system, browser)}
    async with httpx.AsyncClient() as thief:
        used = await thief.post(f"{system.issuer}oauth/token", data=form, auth=WEB_CLIENT)
    assert used.status_code == 200


async def test_a_revoked_refresh_token_sends_the_user_to_log_in_again(tmp_path: Path) -> None:
    with running_live_stack(tmp_path) as system:
        async with system.client() as browser:
            await system.login(browser, return_to="/external-api")
            await steal_and_use_refresh_token(system, browser)
            await age_access_tokens(system, browser)

            refused = await browser.get("/api/external")
            assert refused.status_code == 401
            assert refused.json()["error"] == "login_required"
            page = await browser.get("/external-api")
            form = {"csrf_token": csrf_from(page), "endpoint": "external"}
            shown = await browser.post("/external-api", data=form)
            assert API_MESSAGES["login_required"] in shown.text
            assert 'href="/login?returnTo=/external-api"' in shown.text

            # The link logs in again (silently: the tenant's session lives) and comes back.
            started = await browser.get("/login", params={"returnTo": "/external-api"})
            back = await browser.get(started.headers["location"])
            assert back.status_code == 302  # no password form: the tenant knows the user
            done = await browser.get(back.headers["location"])
            assert done.headers["location"] == "/external-api"
            assert (await browser.get("/api/external")).status_code == 200
