"""Hostile clients on raw loopback sockets: a body that sends one byte and then nothing.

httpx always finishes sending a body before it reads the answer, so it cannot play a slow
client; these speak HTTP/1.1 by hand.  Every socket is closed by `SlowClients.close()`,
and every read is bounded by READ_TIMEOUT.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from urllib.parse import urlsplit

READ_TIMEOUT = 30.0  # seconds to wait for an answer on a slow socket
DECLARED_LENGTH = 1_000_000  # the body the client promises and never sends


@dataclass
class SlowClients:
    """Open sockets, each stuck one byte into a POST body."""

    base_url: str
    connections: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = field(
        default_factory=list
    )

    async def open(
        self,
        count: int,
        path: str = "/api/public",
        method: str = "POST",
        headers: dict[str, str] | None = None,
        length: int = DECLARED_LENGTH,
    ) -> None:
        """`count` sockets, each sending `method path` with a body it never finishes.

        GET with a body passes every CSRF check (it is a safe method), so it reaches the
        proxy from anywhere: the shape a real attacker would pick.
        """
        parts = urlsplit(self.base_url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        fields = {"Content-Type": "application/octet-stream", **(headers or {})}
        lines = "".join(f"{name}: {value}\r\n" for name, value in fields.items())
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n{lines}"
            f"Content-Length: {length}\r\n\r\nx"
        ).encode()
        for _ in range(count):
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(head)
            await writer.drain()
            self.connections.append((reader, writer))

    async def trickle(self, interval: float, times: int) -> None:
        """One more body byte on every socket each `interval` seconds, `times` times at most;
        a socket the server has closed is left alone."""
        for _ in range(times):
            await asyncio.sleep(interval)
            for _, writer in self.connections:
                if not writer.is_closing():
                    with contextlib.suppress(ConnectionError, OSError):
                        writer.write(b"x")
                        await writer.drain()

    async def statuses(self) -> list[int]:
        """The status each socket was answered with (0 when it was closed without one)."""
        return [await status(reader) for reader, _ in self.connections]

    async def close(self) -> None:
        for _, writer in self.connections:
            writer.close()
        for _, writer in self.connections:
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()
        self.connections.clear()


async def status(reader: asyncio.StreamReader) -> int:
    line = await asyncio.wait_for(reader.readline(), READ_TIMEOUT)
    parts = line.split()
    return int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else 0
