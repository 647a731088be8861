"""The tenant's JWKS endpoint fails: the API answers 503 with Retry-After (not 401: the
token may be fine), and recovers by itself once the keys can be fetched again."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from testing.live_stack import JWKS_PATH, running_live_stack

RECOVERY_ATTEMPTS = 60  # x RETRY_PAUSE: bounded wait for the API's failure back-off to end
RETRY_PAUSE = 0.25  # seconds


async def test_the_api_answers_503_and_recovers_by_itself(tmp_path: Path) -> None:
    with running_live_stack(tmp_path) as system:
        async with system.client() as browser:
            await system.login(browser)  # the app has verified the ID token: keys are fine
            system.gate.failing.add(JWKS_PATH)  # the API has not fetched the keys yet

            answer = await browser.get("/api/external")
            assert answer.status_code == 503  # the API's answer, relayed by the proxy
            assert int(answer.headers["retry-after"]) > 0
            assert answer.json()["error"] == "temporarily_unavailable"
            again = await browser.get("/api/external")
            assert again.status_code == 503  # still failing while the endpoint is broken

            system.gate.failing.clear()
            statuses = []
            for _ in range(RECOVERY_ATTEMPTS):
                answer = await browser.get("/api/external")
                statuses.append(answer.status_code)
                if answer.status_code == 200:
                    break
                await asyncio.sleep(RETRY_PAUSE)
            assert statuses[-1] == 200, statuses
            assert set(statuses) <= {200, 503}, statuses


async def test_a_direct_call_gets_503_with_retry_after_too(tmp_path: Path) -> None:
    with running_live_stack(tmp_path) as system:
        async with system.client() as browser:
            await system.login(browser)
        system.gate.failing.add(JWKS_PATH)
        # Any well-formed token makes the API look for its key; it cannot, so 503.
        token = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJ4In0.c2ln"
        async with httpx.AsyncClient(base_url=system.api.url) as client:
            answer = await client.get("/api/private", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 503
        assert "retry-after" in answer.headers
        assert "www-authenticate" not in answer.headers
