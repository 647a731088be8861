"""What one client may hold of the proxy: calls at once (per user, anonymous, overall) and
the time to send a body; and what the proxy shows of the API (no internal URL, one Date)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from testing.servers import LiveServer
from testing.slow_clients import SlowClients
from tests.app.test_proxy import backend_app, proxy_app

IDLE_TIMEOUT = 1.0  # seconds a slow upload may pause here: short, so the test ends soon
WAIT_STEP = 0.05
WAIT_STEPS = 200  # 10 s at most for the API to see the slow uploads arrive


@dataclass
class Api:
    server: LiveServer
    seen: list[str]  # the raw path of every request that reached it


@pytest.fixture(scope="module")
def api() -> Iterator[Api]:
    seen: list[str] = []
    with LiveServer(backend_app(seen)) as server:
        yield Api(server, seen)


@pytest.fixture
def seen(api: Api) -> list[str]:
    return api.seen


@pytest.fixture
def capped(api: Api) -> Iterator[LiveServer]:
    app = proxy_app(
        api.server.url,
        proxy_max_concurrent=3,
        proxy_max_concurrent_per_user=1,
        proxy_max_concurrent_anonymous=2,
        proxy_body_idle_timeout=IDLE_TIMEOUT,
    )
    with LiveServer(app) as server:
        yield server


async def arrived(seen: list[str], path: str, count: int) -> None:
    """Wait (bounded) until the API has seen `count` requests for `path`."""
    for _ in range(WAIT_STEPS):
        if seen.count(path) >= count:
            return
        await asyncio.sleep(WAIT_STEP)
    raise AssertionError(f"the API saw {seen.count(path)} of {count} requests for {path}")


async def test_anonymous_slow_uploads_fill_only_the_anonymous_slots(
    capped: LiveServer, seen: list[str]
) -> None:
    slow = SlowClients(capped.url)
    path = "/api/public"  # the one route anonymous calls reach the API on
    before = seen.count(path)
    try:
        await slow.open(2, path)
        await arrived(seen, path, before + 2)
        async with httpx.AsyncClient(base_url=capped.url) as client:
            busy = await client.get("/api/public")
            assert busy.status_code == 503
            assert busy.headers["retry-after"] == "1"
            assert busy.json()["error"] == "proxy_busy"
            user = await client.get("/api/echo/x", headers={"X-Test-User": "alice"})
            assert user.status_code == 200
            # The stalled uploads end with 408 after the idle timeout, and free their slots.
            assert await slow.statuses() == [408, 408]
            assert (await client.get("/api/public")).status_code == 200
    finally:
        await slow.close()


async def test_one_user_cannot_take_every_slot(capped: LiveServer, seen: list[str]) -> None:
    path = "/api/echo/slow-user"
    release = asyncio.Event()

    async def stalled_body() -> AsyncIterator[bytes]:
        yield b"x"
        await asyncio.wait_for(release.wait(), 10)

    async with httpx.AsyncClient(base_url=capped.url, timeout=30) as client:
        alice = {"X-Test-User": "alice"}
        holding = asyncio.ensure_future(client.post(path, headers=alice, content=stalled_body()))
        await arrived(seen, path, 1)
        second = await client.get("/api/echo/x", headers=alice)
        assert second.status_code == 503
        bob = await client.get("/api/echo/x", headers={"X-Test-User": "bob"})
        assert bob.status_code == 200
        release.set()
        assert (await holding).status_code == 200
        assert (await client.get("/api/echo/x", headers=alice)).status_code == 200


async def test_a_stalled_upload_is_408_json(capped: LiveServer) -> None:
    slow = SlowClients(capped.url)
    try:
        await slow.open(1, "/api/public")
        reader, _ = slow.connections[0]
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
        assert head.startswith(b"HTTP/1.1 408")
        assert b"application/json" in head
    finally:
        await slow.close()


def redirecting_api() -> FastAPI:
    api = FastAPI()  # redirect_slashes: /api/thing/ -> 307 to the API's own absolute URL

    @api.get("/api/thing")
    async def thing() -> dict[str, str]:
        return {"thing": "yes"}

    @api.get("/api/elsewhere")
    async def elsewhere() -> RedirectResponse:
        return RedirectResponse("https://example.com/docs", 302)

    return api


async def test_redirects_never_show_the_apis_internal_url() -> None:
    with LiveServer(redirecting_api()) as api, LiveServer(proxy_app(api.url)) as proxy:
        async with httpx.AsyncClient(base_url=proxy.url) as client:
            inside = await client.get("/api/thing/", headers={"X-Test-User": "a"})
            outside = await client.get("/api/elsewhere", headers={"X-Test-User": "a"})
    assert inside.status_code == 307
    assert inside.headers["location"] == "/api/thing"
    assert api.url not in inside.text
    assert outside.headers["location"] == "https://example.com/docs"


async def test_one_date_and_one_server_header(capped: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=capped.url) as client:
        response = await client.get("/api/public")
    assert len(response.headers.get_list("date")) == 1
    assert len(response.headers.get_list("server")) <= 1


async def test_the_csrf_header_is_not_forwarded(capped: LiveServer) -> None:
    headers = {"X-Test-User": "a", "X-CSRF-Token": "secret-token"}
    async with httpx.AsyncClient(base_url=capped.url) as client:
        response = await client.post("/api/echo/csrf", headers=headers, content=b"{}")
    names = [name.lower() for name, _ in response.json()["headers"]]
    assert "x-csrf-token" not in names


async def test_a_trickling_upload_is_cut_at_the_total_timeout(api: Api) -> None:
    """A byte every 0.3 s never trips the idle timeout; the total deadline still ends it."""
    app = proxy_app(api.server.url, proxy_body_idle_timeout=5.0, proxy_body_timeout=1.5)
    with LiveServer(app) as proxy:
        slow = SlowClients(proxy.url)
        try:
            await slow.open(1, "/api/public")
            dripping = asyncio.ensure_future(slow.trickle(0.3, 30))
            assert await slow.statuses() == [408]
            dripping.cancel()
        finally:
            await slow.close()
