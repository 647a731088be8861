"""200 anonymous sockets, each stuck one byte into a GET body (a safe method: no CSRF
check stops it): a logged-in user still logs in, pings the API and loads the profile,
because the proxy's calls are capped and its upstream pool is not the one that login,
refresh and the Management API use."""

from __future__ import annotations

from pathlib import Path

from testing.live_stack import running_live_stack
from testing.slow_clients import SlowClients

SLOW_SOCKETS = 200
# Longer than the test takes, so every slow upload is still open while the user works.
HOLD_SECONDS = 120.0


async def test_a_user_gets_through_while_slow_anonymous_uploads_hold_their_sockets(
    tmp_path: Path,
) -> None:
    settings = {"proxy_body_idle_timeout": HOLD_SECONDS, "proxy_body_timeout": HOLD_SECONDS}
    with running_live_stack(tmp_path, app=settings) as system:
        slow = SlowClients(system.app.url)
        try:
            await slow.open(SLOW_SOCKETS, "/api/public", method="GET")
            async with system.client() as browser:
                home = await system.login(browser, return_to="/profile")
                assert home.status_code == 303
                ping = await browser.get("/api/external")
                assert ping.status_code == 200, ping.text
                assert "successfully validated" in ping.json()["msg"]
                profile = await browser.get("/profile")
                assert profile.status_code == 200
                assert 'id="metadata"' in profile.text
                assert "metadata-unavailable" not in profile.text
                assert (await browser.get("/api/public")).status_code == 200
            async with system.client() as visitor:
                # Anonymous callers share a few slots: the next one is told to come back.
                busy = await visitor.get("/api/public")
                assert busy.status_code == 503
                assert busy.headers["retry-after"] == "1"
            assert all(not writer.is_closing() for _, writer in slow.connections)
        finally:
            await slow.close()
