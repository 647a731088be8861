"""Unsafe requests are judged on their headers before any body is read: the proxy's writes
need our own page (Origin/Sec-Fetch-Site and X-CSRF-Token), forms need a session with a
token and stay under 64 kB."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, Request

from app.config import SESSION_COOKIE
from app.csrf import CsrfProtected, csrf_token
from app.exception_handlers import register_exception_handlers
from app.memory_store import MemorySessionStore
from app.request_guard import MAX_FORM_BYTES, RequestGuard
from app.session_middleware import ServerSessionMiddleware
from testing.live_stack import LiveStack, csrf_from
from testing.servers import LiveServer
from testing.slow_clients import SlowClients

META_TOKEN = 'name="csrf-token" content="'
SHORT_FORM_TIMEOUT = 0.5  # seconds: the guarded app's form timeout, so the test ends soon


async def page_token(browser: httpx.AsyncClient) -> str:
    page = await browser.get("/external-api")
    assert META_TOKEN in page.text  # what static/app.js sends as X-CSRF-Token
    return page.text.split(META_TOKEN, 1)[1].split('"', 1)[0]


async def test_our_pages_script_can_write_through_the_proxy(
    alice: httpx.AsyncClient, stack: LiveStack
) -> None:
    token = await page_token(alice)
    headers = {"Origin": stack.app.url, "Sec-Fetch-Site": "same-origin", "X-CSRF-Token": token}
    response = await alice.post("/api/private", headers=headers)
    assert response.status_code == 200  # the API takes POST too (RFC 6750 form-body tokens)
    assert (await alice.get("/api/private")).status_code == 200  # reads need nothing


@pytest.mark.parametrize(
    ("headers", "with_token"),
    [
        pytest.param({"Origin": "http://evil.test"}, True, id="foreign-origin"),
        pytest.param({"Sec-Fetch-Site": "same-site"}, True, id="another-port-of-this-host"),
        pytest.param({"Sec-Fetch-Site": "cross-site"}, True, id="cross-site"),
        pytest.param({}, True, id="no-origin-no-fetch-site"),
        pytest.param({"Sec-Fetch-Site": "same-origin"}, False, id="no-token"),
    ],
)
async def test_proxy_writes_from_anywhere_else_are_403_json(
    alice: httpx.AsyncClient, headers: dict[str, str], with_token: bool
) -> None:
    token = {"X-CSRF-Token": await page_token(alice)} if with_token else {}
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        response = await alice.request(method, "/api/private", headers={**headers, **token})
        assert response.status_code == 403, method
        assert response.json()["error"] == "csrf_failed"


async def test_a_cross_site_form_post_to_the_proxy_is_refused(
    alice: httpx.AsyncClient, stack: LiveStack
) -> None:
    """The issue's attack: an auto-submitting form on another port of the same host."""
    headers = {"Origin": "http://127.0.0.1:1", "Sec-Fetch-Site": "same-site"}
    response = await alice.post("/api/private", data={"x": "1"}, headers=headers)
    assert response.status_code == 403


async def test_a_wrong_token_is_refused(alice: httpx.AsyncClient, stack: LiveStack) -> None:
    await page_token(alice)
    headers = {"Sec-Fetch-Site": "same-origin", "X-CSRF-Token": "not-the-token"}
    assert (await alice.post("/api/private", headers=headers)).status_code == 403


async def test_an_anonymous_huge_logout_is_refused_on_its_headers(stack: LiveStack) -> None:
    async def endless() -> AsyncIterator[bytes]:
        for _ in range(200):  # 200 MB if anyone read it
            yield b"a" * (1024 * 1024)

    async with stack.client() as anonymous:
        response = await anonymous.post(
            "/logout",
            content=endless(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert response.status_code == 403


async def test_a_form_past_64_kb_is_413_and_a_normal_one_still_works(
    alice: httpx.AsyncClient,
) -> None:
    page = await alice.get("/profile")
    token = csrf_from(page)
    big = {"csrf_token": token, "theme": "dark", "pad": "x" * MAX_FORM_BYTES}
    declared = await alice.post("/profile", data=big)
    assert declared.status_code == 413
    assert "too large" in declared.text

    async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: counted as it comes
        yield f"csrf_token={token}&theme=dark&pad=".encode()
        for _ in range(MAX_FORM_BYTES // 1024 + 1):
            yield b"x" * 1024

    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    streamed = await alice.post("/profile", content=chunked(), headers=headers)
    assert streamed.status_code == 413
    fine = await alice.post("/profile", data={"csrf_token": token, "theme": "dark"})
    assert fine.status_code == 303
    assert fine.headers["location"] == "/profile"
    assert "Theme saved." in (await alice.get("/profile")).text


async def test_json_clients_get_413_as_json(alice: httpx.AsyncClient) -> None:
    token = csrf_from(await alice.get("/profile"))
    response = await alice.post(
        "/profile",
        data={"csrf_token": token, "pad": "x" * (MAX_FORM_BYTES + 1)},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["error"] == "request_too_large"


def guarded_app() -> FastAPI:
    """Session, guard (a short form timeout) and a form route, as main.py stacks them."""
    app = FastAPI()
    register_exception_handlers(app)
    app.add_middleware(RequestGuard, form_body_timeout=SHORT_FORM_TIMEOUT)
    app.add_middleware(ServerSessionMiddleware, store=MemorySessionStore(10), secret="s" * 32)

    @app.get("/form")
    async def form(request: Request) -> dict[str, str]:
        return {"token": csrf_token(request)}

    @app.post("/submit")
    async def submit(_: CsrfProtected) -> dict[str, str]:
        return {"done": "yes"}

    return app


async def test_a_form_that_trickles_in_is_408() -> None:
    with LiveServer(guarded_app()) as server:
        async with httpx.AsyncClient(base_url=server.url) as browser:
            token = (await browser.get("/form")).json()["token"]
            cookie = browser.cookies.get(SESSION_COOKIE)
        slow = SlowClients(server.url)
        try:
            headers = {
                "Cookie": f"{SESSION_COOKIE}={cookie}",
                "Content-Type": "application/x-www-form-urlencoded",
                "X-CSRF-Token": token,
            }
            await slow.open(1, "/submit", headers=headers, length=100)  # small, but slow
            assert await slow.statuses() == [408]
        finally:
            await slow.close()
