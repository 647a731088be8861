"""The shared client: timeouts, limits, no redirects, and the allow-list checked at start-up."""

from __future__ import annotations

import httpx
import pytest

from app.config import Settings
from app.errors import InvalidAllowList, SettingsError
from app.http import CONNECT_TIMEOUT, READ_TIMEOUT, create_http_client
from app.interceptor import AllowListAuth


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
