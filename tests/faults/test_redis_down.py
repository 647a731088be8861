"""Redis (the session store) stops: every request gets a clear 503 with Retry-After, the app
keeps running, and sessions are back, still logged in, when Redis returns."""

from __future__ import annotations

from pathlib import Path

import pytest

from testing.live_stack import running_live_stack
from testing.redis_server import RedisServer

pytestmark = pytest.mark.redis


async def test_a_clear_503_then_sessions_come_back(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    app = {"session_store_url": redis_server.url}
    with running_live_stack(tmp_path, app=app) as system:
        async with system.client() as browser:
            await system.login(browser, return_to="/external-api")
            assert (await browser.get("/api/external")).status_code == 200

            redis_server.stop(save=True)  # with persistence, like a production Redis
            page = await browser.get("/external-api")
            assert page.status_code == 503
            assert page.headers["content-type"].startswith("text/html")
            assert "Temporarily unavailable" in page.text
            assert int(page.headers["retry-after"]) > 0
            call = await browser.get("/api/external", headers={"Accept": "application/json"})
            assert call.status_code == 503
            assert call.json()["error"] == "session_store_unavailable"
            assert (await browser.get("/")).status_code == 503  # still answering: no crash

            redis_server.start()
            page = await browser.get("/external-api")
            assert page.status_code == 200  # not a redirect to /login: the session is back
            assert "Ping API" in page.text
            assert (await browser.get("/api/external")).status_code == 200
