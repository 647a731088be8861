"""The /api/* proxy, end to end: browser -> app (real uvicorn) -> API (a real echo server)."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from app.config import Settings
from app.errors import SessionStoreUnavailable, TokenUnavailable
from app.exception_handlers import register_exception_handlers
from app.http import DEFAULT_TIMEOUT, create_http_client
from app.proxy import URL_CACHE_MAX_LENGTH, cached_api_call
from app.proxy_mount import ProxyMount
from app.token_source import TokenSource
from testing.servers import LiveServer

MB = 1024 * 1024
CHUNK = 64 * 1024
SLOW_SECONDS = 1.0  # the slow route's delay, well above SHORT_READ_TIMEOUT
SHORT_READ_TIMEOUT = 0.2
AUDIENCE = "https://quickstarts/api"
STORE_DOWN = "session_store_down"  # X-Test-Error value: the session store fails mid-call


class FakeSource:
    """A TokenSource (the contract): one token per audience, or a TokenUnavailable."""

    def __init__(self, error: str | None = None) -> None:
        self.error = error

    async def get_access_token(self, audience: str | None = None, scope: str | None = None) -> str:
        if self.error == STORE_DOWN:  # a refresh that could not take its session's lock
            raise SessionStoreUnavailable
        if self.error:
            raise TokenUnavailable(self.error)
        return f"token-for-{audience}"


def fake_token_source(request: HTTPConnection) -> TokenSource:
    """Stands in for the session's token manager: `X-Test-User` logs in, `X-Test-Error` fails.

    Without either, it answers as the real one does for a visitor: `login_required`.
    """
    error = request.headers.get("x-test-error")
    if error is None and "x-test-user" not in request.headers:
        error = "login_required"
    return FakeSource(error)


def backend_app(seen: list[str]) -> ASGIApp:
    """The far end: echoes what reached it and records every path, raw."""
    api = FastAPI()

    @api.api_route("/api/echo/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def echo(request: Request) -> Response:
        digest, size = hashlib.sha256(), 0
        async for chunk in request.stream():
            digest.update(chunk)
            size += len(chunk)
        body = {
            "method": request.method,
            "raw_path": request.scope["raw_path"].decode(),
            "query": request.scope["query_string"].decode(),
            "headers": [[k.decode(), v.decode()] for k, v in request.scope["headers"]],
            "size": size,
            "sha256": digest.hexdigest(),
        }
        return JSONResponse(body, headers={"Set-Cookie": "api=1", "X-Custom": "kept"})

    @api.get("/api/download/{size}")
    async def download(size: int) -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, size, CHUNK):
                yield bytes([start // CHUNK % 256]) * min(CHUNK, size - start)

        return StreamingResponse(chunks(), media_type="application/octet-stream")

    @api.get("/api/public")
    async def public(request: Request) -> dict[str, str | None]:
        return {"authorization": request.headers.get("authorization")}

    @api.get("/api/cut-short")
    async def cut_short() -> StreamingResponse:
        async def body() -> AsyncIterator[bytes]:
            yield b"part"
            raise RuntimeError("the API fails half-way")  # uvicorn drops the connection

        return StreamingResponse(body(), headers={"Content-Length": "100"})

    @api.get("/api/slow")
    async def slow() -> dict[str, str]:
        await asyncio.sleep(SLOW_SECONDS)
        return {"late": "yes"}

    async def recording(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            seen.append(scope["raw_path"].decode())
        await api(scope, receive, send)

    return recording


def proxy_app(api_base_url: str, timeout: httpx.Timeout | None = None, **overrides: Any) -> FastAPI:
    """A minimal app around the proxy, the way main.py wires it (`overrides`: Settings)."""
    settings = Settings(_env_file=None, api_base_url=api_base_url, **overrides)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with create_http_client(settings, timeout=timeout or DEFAULT_TIMEOUT) as client:
            app.state.http = client
            yield

    app = FastAPI(lifespan=lifespan)
    register_exception_handlers(app)
    app.add_middleware(ProxyMount, settings=settings, token_source=fake_token_source)
    app.add_middleware(FakeSession)
    return app


class FakeSession:
    """`X-Test-User: name` is a logged-in session of user `name` (the per-user cap's key)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        user = dict(scope.get("headers", [])).get(b"x-test-user")
        scope["session"] = {"user": {"sub": user.decode()}} if user else {}
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def seen() -> list[str]:
    return []


@pytest.fixture(scope="module")
def backend(seen: list[str]) -> Iterator[LiveServer]:
    with LiveServer(backend_app(seen)) as server:
        yield server


@pytest.fixture(scope="module")
def proxy(backend: LiveServer) -> Iterator[LiveServer]:
    with LiveServer(proxy_app(backend.url)) as server:
        yield server


@pytest.fixture
async def browser(proxy: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=proxy.url, headers={"X-Test-User": "alice"}) as client:
        yield client


def received_headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.json()["headers"]}


async def test_path_and_query_reach_the_api_with_the_users_token(
    browser: httpx.AsyncClient,
) -> None:
    response = await browser.get("/api/echo/a%20b/c?x=1&y=%2F&z")
    assert response.status_code == 200
    assert response.json()["raw_path"] == "/api/echo/a%20b/c"
    assert response.json()["query"] == "x=1&y=%2F&z"
    assert received_headers(response)["authorization"] == f"Bearer token-for-{AUDIENCE}"


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE"])
async def test_every_method_is_forwarded_with_its_body(
    browser: httpx.AsyncClient, method: str
) -> None:
    content = b"" if method == "GET" else b'{"n": 1}'
    response = await browser.request(method, "/api/echo/m", content=content)
    assert response.json()["method"] == method
    assert response.json()["sha256"] == hashlib.sha256(content).hexdigest()


async def test_a_large_upload_streams_through(browser: httpx.AsyncClient) -> None:
    digest = hashlib.sha256()

    async def upload() -> AsyncIterator[bytes]:
        for i in range(5 * MB // CHUNK):
            chunk = bytes([i % 256]) * CHUNK
            digest.update(chunk)
            yield chunk

    response = await browser.post("/api/echo/upload", content=upload())
    assert response.status_code == 200
    assert response.json()["size"] == 5 * MB
    assert response.json()["sha256"] == digest.hexdigest()


async def test_a_large_download_streams_through(browser: httpx.AsyncClient) -> None:
    size, received, digest = 5 * MB + 7, 0, hashlib.sha256()
    async with browser.stream("GET", f"/api/download/{size}") as response:
        assert response.status_code == 200
        async for chunk in response.aiter_bytes():
            received += len(chunk)
            digest.update(chunk)
    expected = hashlib.sha256()
    for start in range(0, size, CHUNK):
        expected.update(bytes([start // CHUNK % 256]) * min(CHUNK, size - start))
    assert received == size
    assert digest.hexdigest() == expected.hexdigest()


async def test_hop_by_hop_cookies_and_authorization_are_dropped(
    browser: httpx.AsyncClient,
) -> None:
    headers = {
        "Connection": "x-hop-named",
        "X-Hop-Named": "1",
        "Keep-Alive": "timeout=5",
        "TE": "trailers",
        "Proxy-Authorization": "Basic cHJveHk=",
        "Cookie": "app_session=secret-session-id",
        "Authorization": "Bearer forged-by-the-browser",
        # (X-Forwarded-For/-Proto from loopback are uvicorn's to trust, so not forged here.)
        "X-Forwarded-Host": "evil.test",
        "X-Forwarded-Prefix": "/evil",
        "Forwarded": "for=6.6.6.6",
        "X-Kept": "yes",
    }
    response = await browser.get("/api/echo/h", headers=headers)
    got = received_headers(response)
    dropped = ("x-hop-named", "keep-alive", "te", "proxy-authorization", "cookie", "forwarded")
    for name in (*dropped, "x-forwarded-prefix"):
        assert name not in got
    names = [name for name, _ in response.json()["headers"]]
    assert names.count("x-forwarded-host") == names.count("authorization") == 1
    assert got["authorization"] == f"Bearer token-for-{AUDIENCE}"
    assert got["x-kept"] == "yes"
    assert got["x-forwarded-for"] == "127.0.0.1"
    assert got["x-forwarded-proto"] == "http"
    assert got["x-forwarded-host"] == browser.base_url.netloc.decode()
    assert got["host"] != got["x-forwarded-host"]  # the API's own host, not the app's


async def test_set_cookie_from_the_api_never_reaches_the_browser(
    browser: httpx.AsyncClient,
) -> None:
    response = await browser.get("/api/echo/cookie")
    assert response.headers["x-custom"] == "kept"
    assert "set-cookie" not in response.headers
    assert response.headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    "target",
    [
        "/api/../secret",
        "/api/echo/../../secret",
        "/api/%2e%2e/secret",
        "/api/%2E%2E/secret",
        "/api/echo/%2e%2e/%2e%2e/secret",
        "/api/%252e%252e/secret",
        "/api/echo/..%2f..%2fsecret",
        "/api//secret",
        "/api/echo//secret",
        "/api/echo/..%5c..%5csecret",
        "/api/echo/a%5csecret",
        "/api/echo/%00secret",
    ],
)
async def test_path_traversal_is_refused_before_reaching_the_api(
    proxy: LiveServer, seen: list[str], target: str
) -> None:
    before = len(seen)
    status, body = await raw_get(proxy, target)
    assert status == 400
    assert json.loads(body)["error"] == "invalid_path"
    assert seen[before:] == []


async def raw_get(server: LiveServer, target: str) -> tuple[int, bytes]:
    """GET `target` byte for byte (httpx would resolve the dot segments first)."""
    reader, writer = await asyncio.open_connection(server.host, server.port)
    request = f"GET {target} HTTP/1.1\r\nHost: {server.host}\r\nConnection: close\r\n\r\n"
    writer.write(request.encode())
    await writer.drain()
    data = await reader.read()
    writer.close()
    await writer.wait_closed()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


async def test_the_public_route_goes_anonymously_without_a_login(proxy: LiveServer) -> None:
    forged = {"Authorization": "Bearer forged"}
    async with httpx.AsyncClient(base_url=proxy.url) as anonymous:
        private = await anonymous.get("/api/echo/x", headers=forged)
        public = await anonymous.get("/api/public", headers=forged)
    assert private.status_code == 401
    assert public.status_code == 200
    assert public.json() == {"authorization": None}


async def test_the_public_route_gets_the_token_when_there_is_one(
    browser: httpx.AsyncClient,
) -> None:
    response = await browser.get("/api/public")
    assert response.json() == {"authorization": f"Bearer token-for-{AUDIENCE}"}


async def test_no_token_means_401_json_and_nothing_sent(proxy: LiveServer, seen: list[str]) -> None:
    before = len(seen)
    async with httpx.AsyncClient(base_url=proxy.url) as client:
        response = await client.get("/api/echo/private", headers={"X-Test-Error": "login_required"})
    assert response.status_code == 401
    assert response.json()["error"] == "login_required"
    assert response.json()["error_description"].startswith("Log in again")
    assert seen[before:] == []


async def test_tenant_down_while_getting_a_token_is_502(proxy: LiveServer) -> None:
    headers = {"X-Test-Error": "token_endpoint_unavailable"}
    async with httpx.AsyncClient(base_url=proxy.url) as client:
        response = await client.get("/api/echo/private", headers=headers)
    assert response.status_code == 502
    assert response.json()["error"] == "bad_gateway"


async def test_session_store_down_while_getting_a_token_is_503(
    proxy: LiveServer, seen: list[str]
) -> None:
    """Mapped by the proxy mount through the app's one mapping, as a route's would be."""
    before = len(seen)
    async with httpx.AsyncClient(base_url=proxy.url) as client:
        headers = {"X-Test-Error": STORE_DOWN, "Accept": "application/json"}  # as fetch() asks
        response = await client.get("/api/echo/private", headers=headers)
    assert response.status_code == 503
    assert response.json()["error"] == "session_store_unavailable"
    assert response.headers["retry-after"].isdigit()
    assert seen[before:] == []


async def test_backend_down_is_502_json_and_recovers() -> None:
    backend = LiveServer(backend_app([])).start()
    with LiveServer(proxy_app(backend.url)) as proxy:
        async with httpx.AsyncClient(base_url=proxy.url, headers={"X-Test-User": "a"}) as client:
            backend.stop()
            down = await client.get("/api/echo/x")
            backend.start()
            up = await client.get("/api/echo/x")
    backend.stop()
    assert down.status_code == 502
    assert down.json() == {
        "error": "bad_gateway",
        "error_description": "The API is unavailable; try again shortly.",
    }
    assert up.status_code == 200


async def test_a_small_answer_cut_short_is_502_json_not_half_a_body(
    browser: httpx.AsyncClient,
) -> None:
    response = await browser.get("/api/cut-short")
    assert response.status_code == 502
    assert response.json()["error"] == "bad_gateway"
    assert (await browser.get("/api/echo/after")).status_code == 200  # the pool recovered


async def test_a_post_without_a_body_says_so_and_a_streamed_one_is_chunked(
    browser: httpx.AsyncClient,
) -> None:
    empty = received_headers(await browser.post("/api/echo/empty"))
    assert empty["content-length"] == "0"
    assert "transfer-encoding" not in empty

    async def upload() -> AsyncIterator[bytes]:
        yield b"streamed"

    streamed = await browser.post("/api/echo/streamed", content=upload())
    assert streamed.json()["size"] == len(b"streamed")
    assert received_headers(streamed)["transfer-encoding"] == "chunked"
    assert "content-length" not in received_headers(streamed)


async def test_the_api_sees_one_host_its_own_first(
    browser: httpx.AsyncClient, backend: LiveServer
) -> None:
    response = await browser.get("/api/echo/host", headers={"Host": "app.example"})
    names = [name for name, _ in response.json()["headers"]]
    assert names[0] == "host"
    assert names.count("host") == 1
    assert received_headers(response)["host"] == httpx.URL(backend.url).netloc.decode()
    assert received_headers(response)["x-forwarded-host"] == "app.example"


async def test_urls_with_a_query_are_never_kept_after_their_request(
    browser: httpx.AsyncClient,
) -> None:
    before = cached_api_call.cache_info()
    await browser.get("/api/echo/query", params={"api_key": "secret-in-a-query"})
    assert cached_api_call.cache_info() == before  # not looked up, not stored
    await browser.get("/api/echo/no-query")
    assert cached_api_call.cache_info().currsize == before.currsize + 1


async def test_long_paths_are_forwarded_but_never_kept(browser: httpx.AsyncClient) -> None:
    before = cached_api_call.cache_info()
    long_path = "/api/echo/" + "a" * URL_CACHE_MAX_LENGTH
    response = await browser.get(long_path)
    assert response.json()["raw_path"] == long_path
    assert cached_api_call.cache_info() == before


async def test_slow_backend_is_504_json(backend: LiveServer) -> None:
    timeout = httpx.Timeout(5.0, read=SHORT_READ_TIMEOUT)
    with LiveServer(proxy_app(backend.url, timeout)) as proxy:
        async with httpx.AsyncClient(base_url=proxy.url, headers={"X-Test-User": "a"}) as client:
            response = await client.get("/api/slow")
    assert response.status_code == 504
    assert response.json()["error"] == "gateway_timeout"
