"""The request-header cap of the web app (app/header_limit.py), over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from app.config import SESSION_COOKIE
from app.main import create_app
from testing.live_stack import app_settings
from testing.servers import LiveServer, free_port

OVERSIZED = {
    "cookie": {"Cookie": f"{SESSION_COOKIE}=" + "a" * 20_000},
    "many-headers": {f"X-Pad-{n}": "a" * 1000 for n in range(17)},
    "long-query": {},
}


@pytest.fixture(scope="module")
def app_url() -> Iterator[str]:
    # No tenant needed: the cap answers before anything would talk to one.
    app_url = f"http://127.0.0.1:{free_port()}"
    settings = app_settings("http://127.0.0.1:9", "http://127.0.0.1:9", app_url)
    port = int(app_url.rsplit(":", 1)[1])
    with LiveServer(create_app(settings), port=port) as server:
        yield server.url


@pytest.mark.parametrize("case", list(OVERSIZED))
@pytest.mark.parametrize("accept", ["text/html", "application/json"])
def test_request_head_over_16kb_is_431(app_url: str, case: str, accept: str) -> None:
    params = {"q": "a" * 20_000} if case == "long-query" else {}
    headers = {**OVERSIZED[case], "Accept": accept}
    response = httpx.get(f"{app_url}/api/external", headers=headers, params=params)
    assert response.status_code == 431
    assert response.headers["x-frame-options"] == "DENY"  # still a page of ours
    assert "set-cookie" not in response.headers  # no session was loaded or made
    if accept == "application/json":
        assert response.json()["error"] == "request_header_fields_too_large"
    else:
        assert "Clear this site's cookies" in response.text


def test_request_head_under_16kb_is_served(app_url: str) -> None:
    response = httpx.get(f"{app_url}/", headers={"X-Pad": "a" * 14_000})
    assert response.status_code == 200
    assert "Call a protected API" in response.text
