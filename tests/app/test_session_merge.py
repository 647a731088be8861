"""Concurrent requests of one session do not lose each other's updates, and a session
deleted while a request runs stays deleted (both stores; Redis against a real server)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from app.memory_store import MemorySessionStore
from app.redis_store import RedisSessionStore
from app.session_middleware import ServerSessionMiddleware
from app.session_state import rotate_session
from app.session_store import SessionStore
from testing.redis_server import RedisServer
from testing.servers import LiveServer

SECRET = "test-session-secret"


def merge_app(store: SessionStore) -> FastAPI:
    """`/held` loads the session, waits until `/release`, then writes its key."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await store.aclose()  # on the server's own event loop

    app = FastAPI(lifespan=lifespan)
    app.add_middleware(ServerSessionMiddleware, store=store, secret=SECRET)
    entered, released = asyncio.Event(), asyncio.Event()

    @app.post("/login")
    async def login(request: Request) -> None:
        request.session["user"] = "alice"
        rotate_session(request)

    @app.post("/held")
    async def held(request: Request, key: str) -> None:
        entered.set()
        await released.wait()
        request.session[key] = "held"

    @app.post("/entered")
    async def wait_entered() -> None:
        await entered.wait()

    @app.post("/release")
    async def release() -> None:
        released.set()

    @app.post("/set")
    async def set_value(request: Request, key: str) -> None:
        request.session[key] = "set"

    @app.post("/logout")
    async def logout(request: Request) -> None:
        request.session.clear()

    @app.get("/read")
    async def read(request: Request) -> dict[str, Any]:
        return dict(request.session)

    return app


@pytest.fixture(params=["memory", "redis"])
async def browser(request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncClient]:
    if request.param == "memory":
        store: SessionStore = MemorySessionStore(100)
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        store = RedisSessionStore(server.url)
    with LiveServer(merge_app(store)) as live:
        async with httpx.AsyncClient(base_url=live.url, timeout=10) as client:
            await client.post("/login")
            yield client


async def test_two_requests_changing_different_keys_both_land(browser: httpx.AsyncClient) -> None:
    held = asyncio.create_task(browser.post("/held", params={"key": "a"}))
    await browser.post("/entered")  # the held request has loaded the session
    await browser.post("/set", params={"key": "b"})  # saved while the other still runs
    await browser.post("/release")
    await held
    assert (await browser.get("/read")).json() == {"user": "alice", "a": "held", "b": "set"}


async def test_a_session_deleted_meanwhile_stays_deleted(browser: httpx.AsyncClient) -> None:
    cookie = browser.cookies.get("app_session")
    held = asyncio.create_task(browser.post("/held", params={"key": "a"}))
    await browser.post("/entered")
    await browser.post("/logout")  # another tab logs out (or the tenant, by back-channel)
    browser.cookies.set("app_session", cookie or "")  # the held request still carries it
    await browser.post("/release")
    answer = await held
    assert "Max-Age=0" in answer.headers["set-cookie"]
    browser.cookies.set("app_session", cookie or "")
    assert (await browser.get("/read")).json() == {}
