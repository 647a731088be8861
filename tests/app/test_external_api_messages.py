"""The External API page names each way a call can fail, on the no-JavaScript path.

The page's script applies the same rules in the browser (tests/e2e/test_browser.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.pages import API_MESSAGES, api_error_code
from testing.live_stack import ping_without_javascript, running_live_stack


@pytest.mark.parametrize(
    ("status", "body", "code"),
    [
        pytest.param(401, {"error": "invalid_token"}, "login_required", id="401"),
        pytest.param(403, {"error": "insufficient_scope"}, "forbidden", id="403"),
        pytest.param(502, {"error": "bad_gateway"}, "api_down", id="502-refused"),
        pytest.param(504, {"error": "gateway_timeout"}, "api_timeout", id="504-timeout"),
        pytest.param(
            503, {"error": "temporarily_unavailable"}, "issuer_unavailable", id="503-issuer"
        ),
        # The web app's own session store being down is not the API's identity provider.
        pytest.param(503, {"error": "session_store_unavailable"}, "api_error", id="503-other"),
        pytest.param(500, None, "api_error", id="500"),
        pytest.param(418, "teapot", "api_error", id="other"),
    ],
)
def test_each_failure_has_its_own_message(status: int, body: Any, code: str) -> None:
    assert api_error_code(status, body) == code
    assert API_MESSAGES[code]


async def test_api_without_the_issuers_keys_says_so_not_that_it_is_down(tmp_path: Path) -> None:
    with running_live_stack(tmp_path) as stack:
        async with stack.client() as browser:
            await stack.login(browser)
            stack.tenant.stop()  # the API has not fetched the keys yet, and now cannot
            result = await ping_without_javascript(browser)
            proxied = await browser.get("/api/external", headers={"Accept": "application/json"})
    assert 'data-error="issuer_unavailable"' in result
    assert "signing keys; it retries by itself" in result
    assert "honcho start api" not in result
    assert proxied.status_code == 503  # the API's answer, passed through by the proxy
    assert proxied.headers["retry-after"].isdigit()
    assert proxied.json()["error"] == "temporarily_unavailable"


async def test_missing_scope_says_which(tmp_path: Path) -> None:
    with running_live_stack(
        tmp_path, app={"auth0_scope": "openid profile email offline_access"}
    ) as stack:
        async with stack.client() as browser:
            await stack.login(browser)
            result = await ping_without_javascript(browser, "private-scoped")
    assert 'data-error="forbidden"' in result
    assert "read:messages" in result
