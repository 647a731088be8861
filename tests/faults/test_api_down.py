"""The API stops while users are busy: pages keep rendering, `/api/*` answers 502 JSON, and
everything works again once the API is back, with no restart of the app or the tenant."""

from __future__ import annotations

from pathlib import Path

from app.pages import API_MESSAGES
from testing.live_stack import ping_without_javascript, running_live_stack

PAGES = ("/", "/external-api", "/profile")


async def test_the_api_stops_and_comes_back_under_load(tmp_path: Path) -> None:
    with running_live_stack(tmp_path) as system:
        async with system.client() as browser:
            await system.login(browser, return_to="/external-api")
            assert (await browser.get("/api/external")).status_code == 200

            system.api.stop()
            for path in PAGES:
                page = await browser.get(path)
                assert page.status_code == 200, path
            down = await browser.get("/api/external")
            assert down.status_code == 502
            assert down.headers["content-type"] == "application/json"
            assert down.json()["error"] == "bad_gateway"
            assert API_MESSAGES["api_down"] in await ping_without_javascript(browser)
            # The JavaScript path reads the same sentences from the page.
            page = await browser.get("/external-api")
            assert 'data-messages="' in page.text
            assert API_MESSAGES["api_down"].split("?")[0] in page.text

            system.api.start()  # the same port; nothing else restarts
            back = await browser.get("/api/external")
            assert back.status_code == 200
            assert "successfully validated" in back.json()["msg"]
            result = await ping_without_javascript(browser)
            assert "successfully validated" in result
            assert API_MESSAGES["api_down"] not in result
