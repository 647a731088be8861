"""One keep-alive HTTP/1.1 connection to the API: asyncio's Protocol and httptools' parser.

app/upstream.py keeps a pool of these.  A connection writes one request at a time and
parses the answer as it arrives; its waits are bounded by the caller's timeouts and its
failures are the httpx exceptions the proxy maps to 502 and 504.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import cast

import httptools
import httpx

HIGH_WATER = 256 * 1024  # bytes of response body buffered before reading pauses
Origin = tuple[bytes, bytes, int]  # scheme, host, port
TIMER_SLACK = 0.01  # seconds: an event loop may run a timer up to a clock tick early


class Connection(asyncio.Protocol):
    """One TCP (or TLS) connection: writes a request, parses the response with httptools."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.headers_done = False
        self.complete = False
        self.keep_alive = False
        self.lost = False
        self.error: Exception | None = None
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._waiter: asyncio.Future[None] | None = None
        self._writable: asyncio.Future[None] | None = None
        self.idle_until = 0.0
        self.origin: Origin = (b"", b"", 0)
        # The current wait's read deadline (None: unbounded, or no wait), and the one timer
        # that enforces it: started once and moved on when it comes due early, rather than
        # a timer started and cancelled for every wait (see `wait`).
        self._read_deadline: float | None = None
        self._read_timer: asyncio.TimerHandle | None = None

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport, but behave as one.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            self._fail(httpx.RemoteProtocolError("The API sent a malformed response"))
            self.close()

    def eof_received(self) -> bool | None:
        return None  # close the transport: half-open connections are of no use here

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self._stop_read_timer()
        if not self.complete:
            self._fail(httpx.ReadError("The API closed the connection"))
        if self._writable is not None and not self._writable.done():
            self._writable.set_exception(httpx.WriteError("The API closed the connection"))

    def pause_writing(self) -> None:
        self._writable = self._loop.create_future()

    def resume_writing(self) -> None:
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        self._writable = None

    # -- httptools callbacks ---------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        # Lower-cased once here, as ASGI wants them: the proxy compares names many times.
        self.headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        self.status = self._parser.get_status_code()
        self.keep_alive = self._parser.should_keep_alive()
        self.headers_done = True
        self._wake()

    def on_body(self, body: bytes) -> None:
        self._chunks.append(body)
        self._buffered += len(body)
        if self._buffered > HIGH_WATER and self.transport is not None:
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        self.complete = True
        self._wake()

    # -- used by the transport -------------------------------------------------------------

    def reset(self) -> None:
        """Ready for the next request on this connection."""
        self.status, self.headers, self.headers_done, self.complete = 0, [], False, False

    def usable(self, now: float) -> bool:
        return not self.lost and self.error is None and now < self.idle_until

    def write(self, data: bytes) -> None:
        if self.lost or self.transport is None:
            raise httpx.WriteError("The API closed the connection")
        self.transport.write(data)

    async def drain(self, seconds: float | None) -> None:
        if self._writable is not None:
            await self._bounded(self._writable, seconds, httpx.WriteTimeout)

    async def wait(self, seconds: float | None) -> None:
        """Until the parser has more for us (headers, body, the end) or the link fails;
        ReadTimeout after `seconds`."""
        if self.error is not None:
            raise self.error
        self._waiter = waiter = self._loop.create_future()
        if seconds is not None:
            self._read_deadline = self._loop.time() + seconds
            if self._read_timer is None:  # one pending is due sooner, and moves itself on
                self._read_timer = self._loop.call_at(self._read_deadline, self._read_due)
        try:
            await waiter
        finally:
            self._waiter = self._read_deadline = None

    def _read_due(self) -> None:
        self._read_timer = None
        deadline = self._read_deadline
        if deadline is None or self._waiter is None or self._waiter.done():
            return  # nothing is waiting with a deadline: the next wait starts a timer
        if self._loop.time() >= deadline - TIMER_SLACK:
            _expire(self._waiter, httpx.ReadTimeout)
        else:  # a later wait than the one this timer was started for
            self._read_timer = self._loop.call_at(deadline, self._read_due)

    async def _bounded(
        self, future: asyncio.Future[None], seconds: float | None, error: type[Exception]
    ) -> None:
        # call_later, not asyncio.wait_for: no extra task per wait on the hot path.
        handle = None
        if seconds is not None:
            handle = self._loop.call_later(seconds, _expire, future, error)
        try:
            await future
        finally:
            if handle is not None:
                handle.cancel()

    @property
    def buffered(self) -> bool:
        return bool(self._chunks)

    def take_body(self) -> list[bytes]:
        chunks, self._chunks, self._buffered = list(self._chunks), deque(), 0
        if self.transport is not None and not self.lost:
            self.transport.resume_reading()
        return chunks

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        self.lost = True
        self._stop_read_timer()

    def _stop_read_timer(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _fail(self, error: Exception) -> None:
        if self.error is None:
            self.error = error
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(error)


def _expire(future: asyncio.Future[None], error: type[Exception]) -> None:
    if not future.done():
        future.set_exception(error("The API did not answer in time"))
