"""A lean HTTP/1.1 keep-alive transport for the API, behind httpx's transport interface.

The shared `httpx.AsyncClient` mounts it for `API_BASE_URL`'s origin only (app/http.py), so
the allow-list interceptor, timeouts and error types stay httpx's; what changes is the part
under `client.send()`.  Measured on the proxy hop (bench/README.md): httpcore's pool, anyio
and h11 cost about half of the app's CPU per proxied request; this transport is asyncio's
`Protocol` plus httptools' C parser (already loaded: uvicorn parses requests with it), with
a plain list of idle connections.  aiohttp would do the same job but costs 0.35 s of import
and 30 MB of RSS in a process that must start in under 2 s and idle small.

The proxy also calls `exchange()` directly: the same pool and timeouts, without httpx's
request and response models, which cost more than the hop itself (bench/README.md).
One connection (app/upstream_connection.py) carries one request at a time (no
pipelining).  Every wait is bounded by the
request's own httpx timeouts (`connect`, `read`, `write`, `pool`), and failures are raised
as the httpx exceptions the proxy already maps to 502 and 504.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from itertools import chain

import httpx

from app.upstream_connection import Connection, Origin

CHUNKED = b"chunked"
CRLF = b"\r\n"
RawHeaders = list[tuple[bytes, bytes]]


def _head(method: bytes, target: bytes, headers: RawHeaders) -> bytes:
    """The request line and headers; LocalProtocolError if a part could split them."""
    # A CR, LF or NUL in any part could end a header early and start another, or the body.
    # Searched and joined in C (memchr over the parts; map over the pairs): this runs for
    # every proxied call, with a token of a kilobyte or more among the parts.
    parts = b"".join([method, target, *chain.from_iterable(headers)])
    if b"\r" in parts or b"\n" in parts or b"\0" in parts:
        raise httpx.LocalProtocolError("Refusing a request head with control characters")
    fields = CRLF.join(map(b": ".join, headers))
    return b"%s %s HTTP/1.1\r\n%s%s\r\n" % (method, target, fields, CRLF if headers else b"")


@dataclass
class UpstreamResponse:
    """An answer's status and raw headers; `body` streams the rest (aclose() it)."""

    status: int
    headers: RawHeaders
    body: _ResponseStream


class _ResponseStream(httpx.AsyncByteStream):
    """The response body as it arrives; closing it returns the connection to the pool."""

    def __init__(self, pool: UpstreamTransport, connection: Connection, seconds: float | None):
        self._pool, self._connection, self._timeout = pool, connection, seconds
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        connection = self._connection
        while True:
            for chunk in connection.take_body():
                yield chunk
            if connection.complete and not connection.buffered:
                return
            if not connection.buffered:  # more may have come while the caller had a chunk
                await connection.wait(self._timeout)

    async def read(self) -> bytes:
        """The whole body.  Without an async generator when it is all here already, as a
        small answer usually is by the time its head is parsed."""
        connection = self._connection
        if connection.complete:
            return b"".join(connection.take_body())
        return b"".join([chunk async for chunk in self])

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            self._pool.release(self._connection)


class UpstreamTransport(httpx.AsyncBaseTransport):
    """Keep-alive HTTP/1.1 connections to the origins it is mounted for (see module doc).

    At most `max_connections` requests are in flight at once (a request waits up to the pool
    timeout for a slot), and at most `max_keepalive` idle connections are kept, each for
    `keepalive_expiry` seconds.
    """

    def __init__(
        self, *, max_connections: int, max_keepalive: int, keepalive_expiry: float
    ) -> None:
        self._slots = asyncio.Semaphore(max_connections)
        self._max_keepalive = max_keepalive
        self._expiry = keepalive_expiry
        self._idle: dict[Origin, list[Connection]] = {}
        self._ssl: ssl.SSLContext | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        answer = await self.exchange(
            request.method.encode("ascii"),
            request.url,
            request.headers.raw,
            request.stream,
            httpx.Timeout(**request.extensions.get("timeout", {})),
        )
        return httpx.Response(
            answer.status,
            headers=answer.headers,
            stream=answer.body,
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def exchange(
        self,
        method: bytes,
        url: httpx.URL,
        headers: RawHeaders,
        body: AsyncIterable[bytes] | None,
        timeouts: httpx.Timeout,
    ) -> UpstreamResponse:
        """Send one request and read the answer's head; the body streams from `.body`.

        What `handle_async_request` does for httpx, without httpx's Request and Response
        models: the proxy calls it directly (see app/proxy.py).  `headers` go out as
        given, Host included; a body goes chunked when they say `Transfer-Encoding: chunked`.
        The caller must `aclose()` the body, which gives the connection back.
        """
        await self._acquire_slot(timeouts.pool)
        try:
            connection = await self._connection_for(url, timeouts.connect)
        except BaseException:
            self._slots.release()
            raise
        try:
            connection.write(_head(method, url.raw_path, headers))
            if body is not None:
                await self._send_body(connection, headers, body, timeouts.write)
            while not connection.headers_done:
                await connection.wait(timeouts.read)
        except BaseException:
            connection.close()
            self._slots.release()
            raise
        if method == b"HEAD":
            connection.complete, connection.keep_alive = True, False  # llhttp expects a body
        stream = _ResponseStream(self, connection, timeouts.read)
        return UpstreamResponse(connection.status, connection.headers, stream)

    async def _acquire_slot(self, seconds: float | None) -> None:
        if not self._slots.locked():
            await self._slots.acquire()  # no wait: no timer
            return
        try:
            await asyncio.wait_for(self._slots.acquire(), seconds)
        except TimeoutError:
            raise httpx.PoolTimeout("No connection to the API became free in time") from None

    async def _connection_for(self, url: httpx.URL, seconds: float | None) -> Connection:
        key = (url.raw_scheme, url.raw_host, url.port or (443 if url.scheme == "https" else 80))
        idle, now = self._idle.get(key), time.monotonic()
        while idle:
            connection = idle.pop()
            if connection.usable(now):
                connection.reset()
                return connection
            connection.close()
        return await self._connect(key, seconds)

    async def _connect(self, key: Origin, seconds: float | None) -> Connection:
        scheme, host, port = key
        loop = asyncio.get_running_loop()
        context = None
        if scheme == b"https":
            self._ssl = self._ssl or ssl.create_default_context()
            context = self._ssl
        try:
            async with asyncio.timeout(seconds):
                _, connection = await loop.create_connection(
                    lambda: Connection(loop), host.decode("ascii"), port, ssl=context
                )
        except TimeoutError:
            raise httpx.ConnectTimeout("Connecting to the API timed out") from None
        except (OSError, ssl.SSLError) as exc:
            raise httpx.ConnectError(f"Cannot connect to the API ({type(exc).__name__})") from exc
        connection.origin = key
        return connection

    async def _send_body(
        self,
        connection: Connection,
        headers: RawHeaders,
        body: AsyncIterable[bytes],
        seconds: float | None,
    ) -> None:
        chunked = any(
            name.lower() == b"transfer-encoding" and value.lower() == CHUNKED
            for name, value in headers
        )
        async for chunk in body:
            if chunk:
                connection.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
                await connection.drain(seconds)
        if chunked:
            connection.write(b"0\r\n\r\n")
        await connection.drain(seconds)

    def release(self, connection: Connection) -> None:
        """Keep a connection whose response was read to the end; close any other."""
        self._slots.release()
        if not (connection.complete and connection.keep_alive and not connection.lost):
            connection.close()
            return
        idle = self._idle.setdefault(connection.origin, [])
        if len(idle) >= self._max_keepalive:
            connection.close()
            return
        connection.idle_until = time.monotonic() + self._expiry
        idle.append(connection)

    async def aclose(self) -> None:
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()
