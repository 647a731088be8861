"""The bounded uvicorn protocol: an oversized or trickled request head is refused while it
arrives, and nothing else changes (bodies, keep-alive, slow responses)."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
from starlette.types import Receive, Scope, Send
from uvicorn.config import Config
from uvicorn.server import ServerState

from serving.protocol import MAX_HEAD_BYTES, BoundedHttpToolsProtocol
from testing.servers import LiveServer

CHUNK = 8 * 1024
SHORT_TIMEOUT = 0.2  # seconds; the tests wait longer than this, they never time anything


class Recorder:
    """An ASGI app that answers 200 'ok' (after `delay` seconds) and counts its calls."""

    def __init__(self, delay: float = 0.0) -> None:
        self.calls = 0
        self.delay = delay

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        self.calls += 1
        await asyncio.sleep(self.delay)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


class FakeTransport(asyncio.Transport):
    """Records what the protocol writes and whether it closed the connection."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closed = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        peers = {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}
        return peers.get(name, default)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


class ShortTimeout(BoundedHttpToolsProtocol):
    head_timeout = SHORT_TIMEOUT


def connect(
    app: Recorder, protocol_class: type[BoundedHttpToolsProtocol] = BoundedHttpToolsProtocol
) -> tuple[BoundedHttpToolsProtocol, FakeTransport]:
    config = Config(app, http=protocol_class, log_level="warning", lifespan="off")
    config.load()
    protocol = protocol_class(
        config=config,
        server_state=ServerState(),
        app_state={},
        _loop=asyncio.get_running_loop(),
    )
    transport = FakeTransport()
    protocol.connection_made(transport)
    return protocol, transport


def head(size: int) -> bytes:
    """A GET whose request line and headers take about `size` bytes."""
    start = b"GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\nX-Pad: "
    return start + b"a" * (size - len(start) - 4) + b"\r\n\r\n"


async def test_an_oversized_head_is_refused_before_it_is_read_whole() -> None:
    app = Recorder()
    protocol, transport = connect(app)
    fed = 0
    protocol.data_received(b"GET / HTTP/1.1\r\nHost: test\r\nX-Big: ")
    while not transport.closed and fed < 1024 * 1024:
        protocol.data_received(b"a" * CHUNK)
        fed += CHUNK
    assert transport.closed
    assert transport.written.startswith(b"HTTP/1.1 431 ")
    assert b'"error": "request_header_fields_too_large"' in transport.written
    assert fed <= MAX_HEAD_BYTES + CHUNK  # stopped at the limit, not at the end of the head
    assert app.calls == 0


async def test_a_trickled_head_times_out_with_408() -> None:
    app = Recorder()
    protocol, transport = connect(app, ShortTimeout)
    protocol.data_received(b"GET / HTTP/1.1\r\nHost: te")
    await asyncio.sleep(SHORT_TIMEOUT * 3)
    assert transport.closed
    assert transport.written.startswith(b"HTTP/1.1 408 ")
    assert app.calls == 0


async def test_an_idle_new_connection_is_closed_after_the_head_timeout() -> None:
    _, transport = connect(Recorder(), ShortTimeout)
    await asyncio.sleep(SHORT_TIMEOUT * 3)
    assert transport.closed


async def test_a_slow_response_is_not_cut_by_the_head_timer() -> None:
    app = Recorder(delay=SHORT_TIMEOUT * 3)
    protocol, transport = connect(app, ShortTimeout)
    protocol.data_received(head(200))
    await asyncio.sleep(SHORT_TIMEOUT * 6)
    assert transport.written.startswith(b"HTTP/1.1 200 ")
    assert b"\r\nok\r\n" in transport.written
    assert b" 408 " not in transport.written


class LongerTimeout(BoundedHttpToolsProtocol):
    head_timeout = SHORT_TIMEOUT * 5  # room for the steps below, whatever the machine's load


async def test_a_later_head_gets_its_whole_allowance_and_no_more() -> None:
    """The connection's one timer, started by the first request, comes due while a second
    head trickles in: it must neither cut that head short nor forget it."""
    app = Recorder()
    protocol, transport = connect(app, LongerTimeout)
    protocol.data_received(head(200).replace(b"Connection: close", b"X-Keep: on"))
    await asyncio.sleep(LongerTimeout.head_timeout * 0.4)
    protocol.data_received(b"GET / HTTP/1.1\r\nHost: te")  # the second head begins
    await asyncio.sleep(LongerTimeout.head_timeout * 0.8)  # past the first timer's deadline
    assert not transport.closed  # the second head still has time left
    await asyncio.sleep(LongerTimeout.head_timeout * 1.5)
    assert transport.closed
    assert transport.written.count(b"HTTP/1.1 200 ") == 1
    assert b"HTTP/1.1 408 " in transport.written
    assert app.calls == 1


async def test_each_request_on_a_connection_gets_its_own_allowance() -> None:
    app = Recorder()
    protocol, transport = connect(app)
    for _ in range(3):  # 3 x 40 KB on one connection: more than the limit in total
        protocol.data_received(head(40 * 1024).replace(b"Connection: close", b"X-Keep: on"))
        await asyncio.sleep(0.05)
    assert app.calls == 3
    assert transport.written.count(b"HTTP/1.1 200 ") == 3
    assert not transport.closed


async def test_a_body_arriving_with_its_head_does_not_count_as_head() -> None:
    """A 200 kB upload sent in one packet with a small head is a request, not a 431."""
    app = Recorder()
    protocol, transport = connect(app)
    body = b"x" * (200 * 1024)
    start = b"POST / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n"
    protocol.data_received(start + b"Content-Length: %d\r\n\r\n" % len(body) + body)
    await asyncio.sleep(0.05)
    assert app.calls == 1
    assert transport.written.startswith(b"HTTP/1.1 200 ")


def raw_request(url: str, request: bytes) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize(("size", "status"), [(40 * 1024, b"200"), (100 * 1024, b"431")])
def test_live_server_bounds_the_head(size: int, status: bytes) -> None:
    app = Recorder()
    with LiveServer(app) as server:
        response = raw_request(server.url, head(size))
    assert response.startswith(b"HTTP/1.1 " + status + b" ")
    assert app.calls == (1 if status == b"200" else 0)
