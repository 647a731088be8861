"""The shared client: timeouts, limits, no redirects, and the allow-list checked at start-up."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.config import Settings
from app.errors import InvalidAllowList, SettingsError
from app.http import CONNECT_TIMEOUT, READ_TIMEOUT, api_origin, create_http_client
from app.interceptor import AllowListAuth
from testing.servers import LiveServer

HANG_SECONDS = 5.0  # longer than the test needs the API connection held


def settings(**overrides: object) -> Settings:
    return Settings(_env_file=None, **overrides)  # type: ignore[arg-type]


async def test_client_has_timeouts_the_interceptor_and_no_redirects() -> None:
    async with create_http_client(settings()) as client:
        assert client.timeout.connect == CONNECT_TIMEOUT
        assert client.timeout.read == READ_TIMEOUT
        assert client.follow_redirects is False
        assert isinstance(client.auth, AllowListAuth)
        assert len(client.auth.entries) == 3  # the API's public route, the API, Management API


async def test_timeouts_can_be_overridden() -> None:
    async with create_http_client(settings(), timeout=httpx.Timeout(1.0, read=0.25)) as client:
        assert client.timeout.read == 0.25


def test_an_invalid_allow_list_stops_start_up_with_one_sentence() -> None:
    with pytest.raises(InvalidAllowList) as caught:
        create_http_client(settings(allowed_list='["https://api.example.com*"]'))
    message = str(caught.value)
    assert isinstance(caught.value, SettingsError)  # main.py's start-up handling catches it
    assert "https://api.example.com*" in message
    assert "\n" not in message


async def test_cookies_from_one_response_never_ride_on_the_next_request() -> None:
    sent: list[httpx.Request] = []

    def far_end(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, headers={"Set-Cookie": "api=alice; Path=/"})

    async with create_http_client(settings()) as client:
        client._transport = httpx.MockTransport(far_end)  # the far end only, not our code
        first = await client.get("https://other.example/x")
        await client.get("https://other.example/x")
    assert first.headers["set-cookie"] == "api=alice; Path=/"
    assert "cookie" not in sent[1].headers
    assert list(client.cookies.jar) == []


def hanging_app(started: threading.Event) -> Any:
    """An upstream whose /hang answers only after the test is done with it."""
    api = FastAPI()

    @api.get("/hang")
    async def hang() -> dict[str, str]:
        started.set()
        await asyncio.sleep(HANG_SECONDS)
        return {}

    @api.get("/ok")
    async def ok() -> dict[str, str]:
        return {"ok": "yes"}

    return api


async def test_a_full_api_pool_never_blocks_calls_to_the_tenant() -> None:
    """The proxy's hung calls hold only API connections: login and refresh still go out."""
    one = httpx.Limits(max_connections=1)
    short = httpx.Timeout(2.0, pool=0.2)
    started = threading.Event()
    with LiveServer(hanging_app(started)) as api, LiveServer(hanging_app(started)) as tenant:
        config = settings(api_base_url=api.url, auth0_issuer_base_url=f"{tenant.url}/")
        async with create_http_client(config, limits=one, timeout=short) as client:
            hung = asyncio.ensure_future(client.get(f"{api.url}/hang", timeout=HANG_SECONDS + 5))
            assert await asyncio.to_thread(started.wait, HANG_SECONDS)  # the connection is taken
            with pytest.raises(httpx.PoolTimeout):
                await client.get(f"{api.url}/ok")
            assert (await client.get(f"{tenant.url}/ok")).json() == {"ok": "yes"}
            hung.cancel()


@pytest.mark.parametrize(
    ("base", "pattern"),
    [
        ("http://localhost:3001", "http://localhost:3001"),
        ("https://api.example.com", "https://api.example.com:443"),
        ("http://[::1]:8080", "http://[::1]:8080"),
    ],
)
def test_the_api_pool_is_mounted_on_the_apis_origin(base: str, pattern: str) -> None:
    assert api_origin(base) == pattern
