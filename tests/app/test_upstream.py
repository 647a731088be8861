"""The API's keep-alive transport (app/upstream.py) against a real uvicorn server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from fastapi.responses import StreamingResponse

from app.upstream import UpstreamTransport
from testing.servers import LiveServer

SLOW_SECONDS = 1.0
DRIPS = 4  # /drip sends its body in this many chunks over SLOW_SECONDS


def far_end(peers: list[tuple[str, int]]) -> FastAPI:
    """Echoes what it got and records the client port of every request (one per connection)."""
    api = FastAPI()

    @api.api_route("/echo", methods=["GET", "POST", "HEAD"])
    async def echo(request: Request) -> Response:
        assert request.client is not None
        peers.append((request.client.host, request.client.port))
        body = await request.body()
        headers = {"X-Got-Bytes": str(len(body)), "X-Got-Header": request.headers.get("x-a", "")}
        return Response(b"x" * 10, headers=headers)

    @api.get("/slow")
    async def slow() -> Response:
        await asyncio.sleep(SLOW_SECONDS)
        return Response(b"late")

    @api.get("/drip")
    async def drip() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(DRIPS):
                await asyncio.sleep(SLOW_SECONDS / DRIPS)
                yield b"drop"

        return StreamingResponse(chunks())

    return api


@pytest.fixture(scope="module")
def peers() -> list[tuple[str, int]]:
    return []


@pytest.fixture(scope="module")
def server(peers: list[tuple[str, int]]) -> Iterator[LiveServer]:
    with LiveServer(far_end(peers)) as live:
        yield live


@pytest.fixture
async def client(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    transport = UpstreamTransport(max_connections=4, max_keepalive=4, keepalive_expiry=3.0)
    async with httpx.AsyncClient(transport=transport, base_url=server.url) as client:
        yield client


async def test_sequential_requests_reuse_one_connection(
    client: httpx.AsyncClient, peers: list[tuple[str, int]]
) -> None:
    before = len(peers)
    for _ in range(5):
        response = await client.get("/echo")
        assert response.status_code == 200
        assert response.content == b"x" * 10
    assert len(set(peers[before:])) == 1


async def test_a_streamed_upload_arrives_whole(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(64):
            yield b"y" * 16384

    response = await client.post("/echo", content=chunks())  # chunked transfer encoding
    assert response.status_code == 200
    assert response.headers["x-got-bytes"] == str(64 * 16384)


async def test_head_answers_without_a_body_and_the_next_request_works(
    client: httpx.AsyncClient,
) -> None:
    head = await client.head("/echo")
    after = await client.get("/echo")
    assert head.status_code == 200
    assert head.content == b""
    assert after.content == b"x" * 10


async def test_a_header_value_that_would_split_the_request_is_refused(
    client: httpx.AsyncClient, peers: list[tuple[str, int]]
) -> None:
    before = len(peers)
    with pytest.raises(httpx.LocalProtocolError):
        await client.get("/echo", headers={"X-A": "ok\r\nX-Injected: 1"})
    assert len(peers) == before  # nothing reached the far end
    assert (await client.get("/echo")).status_code == 200  # and the pool still works


@pytest.mark.parametrize(
    "value", [b"ok\r\nX-Injected: 1", b"lone\nfeed", b"lone\rreturn", b"nul\x00byte"]
)
async def test_exchange_refuses_a_head_part_that_could_split_the_request(
    server: LiveServer, peers: list[tuple[str, int]], value: bytes
) -> None:
    """exchange() gets raw headers (the proxy's), which nothing in httpx has checked."""
    transport = UpstreamTransport(max_connections=1, max_keepalive=1, keepalive_expiry=3.0)
    url, timeouts = httpx.URL(f"{server.url}/echo"), httpx.Timeout(5.0)
    host = (b"host", url.netloc)
    before = len(peers)
    with pytest.raises(httpx.LocalProtocolError):
        await transport.exchange(b"GET", url, [host, (b"x-a", value)], None, timeouts)
    answer = await transport.exchange(b"GET", url, [host], None, timeouts)
    await answer.body.aclose()
    await transport.aclose()
    assert len(peers) == before + 1  # only the honest request reached the far end
    assert answer.status == 200  # and the slot the refused one took was given back


async def test_a_slow_answer_is_a_read_timeout(server: LiveServer) -> None:
    transport = UpstreamTransport(max_connections=1, max_keepalive=1, keepalive_expiry=3.0)
    timeout = httpx.Timeout(5.0, read=SLOW_SECONDS / 5)
    async with httpx.AsyncClient(transport=transport, timeout=timeout) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.get(f"{server.url}/slow")
        # The timed-out connection was dropped; the slot is free again.
        assert (await client.get(f"{server.url}/echo")).status_code == 200


async def test_the_read_timeout_is_per_wait_not_per_answer(server: LiveServer) -> None:
    """Chunks SLOW_SECONDS / 4 apart, under a read timeout of 3/4 of SLOW_SECONDS: the
    connection's one timer comes due during a later wait, and must move on, not fire."""
    transport = UpstreamTransport(max_connections=1, max_keepalive=1, keepalive_expiry=3.0)
    timeout = httpx.Timeout(5.0, read=SLOW_SECONDS * 3 / DRIPS)
    async with httpx.AsyncClient(transport=transport, timeout=timeout) as client:
        response = await client.get(f"{server.url}/drip")
    assert response.content == b"drop" * DRIPS


async def test_a_full_pool_waits_then_times_out(server: LiveServer) -> None:
    transport = UpstreamTransport(max_connections=1, max_keepalive=1, keepalive_expiry=3.0)
    timeout = httpx.Timeout(5.0, pool=SLOW_SECONDS / 5)
    async with httpx.AsyncClient(transport=transport, timeout=timeout) as client:
        busy = asyncio.ensure_future(client.get(f"{server.url}/slow"))
        await asyncio.sleep(SLOW_SECONDS / 10)
        with pytest.raises(httpx.PoolTimeout):
            await client.get(f"{server.url}/echo")
        assert (await busy).content == b"late"


async def test_a_server_that_closes_mid_answer_is_a_read_error() -> None:
    broken_api = FastAPI()

    @broken_api.get("/")
    async def half() -> StreamingResponse:
        async def body() -> AsyncIterator[bytes]:
            yield b"part"
            raise RuntimeError("the far end fails half-way")  # uvicorn drops the connection

        return StreamingResponse(body())

    transport = UpstreamTransport(max_connections=1, max_keepalive=1, keepalive_expiry=3.0)
    with LiveServer(broken_api) as broken:
        async with httpx.AsyncClient(transport=transport) as client:
            with pytest.raises(httpx.ReadError):
                await client.get(f"{broken.url}/")


async def test_nobody_listening_is_a_connect_error(server: LiveServer) -> None:
    transport = UpstreamTransport(max_connections=1, max_keepalive=1, keepalive_expiry=3.0)
    dead = LiveServer(far_end([])).start()
    url = dead.url
    dead.stop()
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"{url}/echo")
