"""How much of the proxy one client may hold: concurrent calls, and time to send a body.

Every proxied call holds an upstream connection until its response is relayed, so calls
are counted: at most `total` at once, at most `per_user` for one logged-in user, and at
most `anonymous` for everyone not logged in together (a flood of anonymous sockets then
starves only other anonymous callers, never a user).  A call past a cap is refused at
once (the proxy answers 503 with Retry-After) rather than queued: a queue would only move
the wait somewhere less visible.  The counts are per process, like the connection pool.

An upload is read with an idle timeout between chunks and a deadline for the whole body,
so a client that sends one byte and then nothing cannot hold a connection indefinitely.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

ANONYMOUS = ""  # the key all callers without a logged-in user share


class UploadTooSlow(Exception):
    """Raised while relaying a request body that paused too long or took too long in all."""


@dataclass
class Slot:
    """One counted proxied call; `release()` (idempotent) gives it back."""

    slots: ProxySlots
    key: str
    released: bool = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.slots._release(self.key)


@dataclass
class ProxySlots:
    """The caps above, counted without locks: the event loop runs one coroutine at a time."""

    total: int
    per_user: int
    anonymous: int
    active: int = 0
    by_key: dict[str, int] = field(default_factory=dict)

    def acquire(self, user: str | None) -> Slot | None:
        """A slot for `user` (None: anonymous), or None when a cap is reached."""
        key = user or ANONYMOUS
        cap = self.per_user if user else self.anonymous
        if self.active >= self.total or self.by_key.get(key, 0) >= cap:
            return None
        self.active += 1
        self.by_key[key] = self.by_key.get(key, 0) + 1
        return Slot(self, key)

    def _release(self, key: str) -> None:
        self.active -= 1
        remaining = self.by_key[key] - 1
        if remaining:
            self.by_key[key] = remaining
        else:
            del self.by_key[key]  # an idle user costs nothing


async def timed_body(
    stream: AsyncIterator[bytes], *, idle_timeout: float, total_timeout: float
) -> AsyncIterator[bytes]:
    """`stream`, or UploadTooSlow once a chunk takes `idle_timeout` or all `total_timeout`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + total_timeout
    chunks = aiter(stream)
    while True:
        wait = min(idle_timeout, deadline - loop.time())
        try:
            async with asyncio.timeout(max(wait, 0)):
                chunk = await anext(chunks)
        except StopAsyncIteration:
            return
        except TimeoutError as exc:
            raise UploadTooSlow from exc
        yield chunk
