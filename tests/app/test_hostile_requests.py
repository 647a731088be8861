"""Small holes an outsider could use: query strings in logs, a forged Host header, and a
refresh token that outlived its logout."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest

from app.session_tokens import REFRESH_KEY
from testing.live_stack import LiveStack, csrf_from
from testing.login import log_in
from testing.sessions import session_record

SECRET_QUERY = "api_key=sekrit-query-value"
WEB_CLIENT = ("quickstart-web", "quickstart-web-dev-secret")
LOG_WAIT_SECONDS = 5.0  # the access line is written after the answer has been sent


async def logged(caplog: pytest.LogCaptureFixture, logger: str, text: str) -> bool:
    """Whether `logger` logs `text` within LOG_WAIT_SECONDS (the server runs beside us)."""
    for _ in range(int(LOG_WAIT_SECONDS / 0.05)):
        if any(r.name == logger and text in r.getMessage() for r in caplog.records):
            return True
        await asyncio.sleep(0.05)
    return False


async def test_proxied_query_strings_never_reach_the_log(
    alice: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    response = await alice.get(f"/api/public?{SECRET_QUERY}")
    assert response.status_code == 200
    # The access logs still say what happened, once their lines are written.
    assert await logged(caplog, "app.access", "/api/public")
    assert await logged(caplog, "api.access", "/api/public")
    assert "sekrit-query-value" not in caplog.text


@pytest.mark.parametrize("path", ["/profile/", "/external-api/", "/error/"])
async def test_a_forged_host_header_redirects_nowhere(stack: LiveStack, path: str) -> None:
    async with httpx.AsyncClient(base_url=stack.app.url) as client:
        response = await client.get(path, headers={"Host": "evil.example"})
    assert response.status_code == 404
    assert "location" not in response.headers


async def test_logout_revokes_the_refresh_token_at_the_tenant(stack: LiveStack) -> None:
    async with stack.client() as browser:
        await log_in(browser, stack.app.url)
        page = await browser.get("/profile")  # may rotate the refresh token: read it after
        refresh_token = (await session_record(stack, browser))[REFRESH_KEY]
        logged_out = await browser.post("/logout", data={"csrf_token": csrf_from(page)})
        assert logged_out.status_code == 303
        # A copy of the refresh token taken before logout is worthless at the tenant now.
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        reuse = await browser.post(f"{stack.issuer}oauth/token", data=form, auth=WEB_CLIENT)
        assert reuse.status_code == 400
        assert reuse.json()["error"] == "invalid_grant"
