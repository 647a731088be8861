"""The one error mapping, over real HTTP through the app's own middleware stack.

A bug's 500 page is the case Starlette gets wrong by default: an `Exception` handler runs
outside every user middleware, so its page would lack the security headers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import StreamingResponse

from app.config import Settings
from app.errors import LoginRequired
from app.main import create_app
from testing.servers import LiveServer

SECRET_IN_MESSAGE = "secret-detail-that-must-not-show"


class Boom(Exception):
    """Raised by the test routes: a bug the app does not know about."""


def buggy_app() -> FastAPI:
    app = create_app(Settings(_env_file=None, session_secret="test-errors-secret"))

    @app.get("/boom")
    async def boom() -> None:
        raise Boom(SECRET_IN_MESSAGE)

    @app.get("/boom-mid-body")
    async def boom_mid_body() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"first part"
            raise Boom(SECRET_IN_MESSAGE)

        return StreamingResponse(chunks(), media_type="text/plain")

    @app.get("/needs-login")
    async def needs_login() -> None:
        raise LoginRequired("/needs-login")

    return app


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with LiveServer(buggy_app()) as live:
        yield live


def test_a_bug_gets_the_500_page_with_every_security_header(server: LiveServer) -> None:
    response = httpx.get(f"{server.url}/boom")
    assert response.status_code == 500
    assert "Something went wrong." in response.text
    assert SECRET_IN_MESSAGE not in response.text
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cross-origin-opener-policy"] == "same-origin"
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert response.headers["cache-control"] == "no-store"


def test_a_bug_after_the_response_started_aborts_it(server: LiveServer) -> None:
    """No error page can follow a started body; a short body must not look complete."""
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(f"{server.url}/boom-mid-body")


def test_login_required_on_a_page_redirects_to_login(server: LiveServer) -> None:
    response = httpx.get(f"{server.url}/needs-login")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?returnTo=/needs-login"
    assert response.headers["x-frame-options"] == "DENY"


def test_login_required_under_api_is_json(server: LiveServer) -> None:
    """The proxy's visitor: the real token manager says login_required, the answer is 401."""
    response = httpx.get(f"{server.url}/api/private")
    assert response.status_code == 401
    assert response.json() == {
        "error": "login_required",
        "error_description": "Log in again to call the API.",
    }
    assert response.headers["x-frame-options"] == "DENY"
