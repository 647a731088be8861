"""uvicorn's httptools protocol with the request head bounded while it is read.

The services answer a head over 16 KB with a readable 431 (a pure ASGI middleware in api/
and app/), but an ASGI app only runs once uvicorn has parsed the whole head, and httptools
sets no limit: a 50 MB header line was read whole first (+150 MB, 6 s).  A client that
trickles its head, a byte at a time, held a connection forever: uvicorn's keep-alive timer
only runs *between* requests.  This protocol stops both while the head is still arriving:

- more than `MAX_HEAD_BYTES` before the head ends: 431, connection closed;
- the head not complete within `HEAD_TIMEOUT` seconds of its first byte (or of the
  connection opening): 408, connection closed.

Bodies are left alone: the services bound those themselves, per route.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# Well above the services' own 16 KB limit, so that they, not this, answer an honest
# mistake (their answer is JSON or a page); this is the backstop against memory abuse.
MAX_HEAD_BYTES = 64 * 1024
# Seconds a client may take to send a request's line and headers (nginx's
# client_header_timeout is 60 s; a real browser sends a head in one packet).
HEAD_TIMEOUT = 10.0
HEAD_END = b"\r\n\r\n"  # the blank line that ends a request head
TIMER_SLACK = 0.01  # seconds: an event loop may run a timer up to a clock tick early


def _close_response(status: bytes, error: str, description: str) -> bytes:
    body = json.dumps({"error": error, "error_description": description}).encode()
    head = (
        b"HTTP/1.1 " + status + b"\r\n"
        b"content-type: application/json\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n"
        b"cache-control: no-store\r\n"
        b"x-content-type-options: nosniff\r\n"
        b"connection: close\r\n\r\n"
    )
    return head + body


TOO_LARGE = _close_response(
    b"431 Request Header Fields Too Large",
    "request_header_fields_too_large",
    "The request's headers are too large.",
)
TIMED_OUT = _close_response(
    b"408 Request Timeout", "request_timeout", "The request's headers took too long to arrive."
)


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """`HttpToolsProtocol` that refuses an oversized or trickled request head."""

    max_head_bytes = MAX_HEAD_BYTES
    head_timeout = HEAD_TIMEOUT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._reading_head = True  # a connection starts with a head
        self._head_bytes = 0
        self._tail = b""  # the last bytes of the head so far, to find its end across reads
        # When the head being read began (None: no head is arriving).  One timer per
        # connection checks it, rather than a timer started and cancelled per request: a
        # head usually arrives whole, so the timer is almost never due while one arrives.
        self._head_started: float | None = None
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_begins()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return  # refused already: nothing more is parsed
        if self._reading_head:
            # Only the bytes up to the blank line count: a body sent in the same packet as
            # its head (a form, an upload) is not head, and must not be taken for one.
            window = self._tail + data
            end = window.find(HEAD_END)
            head_part = len(data) if end < 0 else end + len(HEAD_END) - len(self._tail)
            if self._head_bytes + head_part > self.max_head_bytes:
                self._refuse(TOO_LARGE)
                return
            self._head_bytes += head_part
            self._tail = window[-(len(HEAD_END) - 1) :]
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_begins()

    def on_headers_complete(self) -> None:
        self._reading_head = False
        self._head_started = None  # the timer, if due, finds nothing to do
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        # What comes next on this connection is the next request's head.
        self._reading_head = True
        self._head_bytes = 0
        self._tail = b""

    def _head_begins(self) -> None:
        """A head starts arriving: it must be complete `head_timeout` seconds from now."""
        self._head_started = self.loop.time()
        if self._head_timer is None:  # one already pending is due sooner, and re-checks
            deadline = self._head_started + self.head_timeout
            self._head_timer = self.loop.call_at(deadline, self._check_head)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _check_head(self) -> None:
        self._head_timer = None
        # Only a head still arriving: a connection idle between requests is the business of
        # uvicorn's keep-alive timer (the next head's first byte starts a timer again).
        if self._head_started is None or not self._reading_head:
            return
        deadline = self._head_started + self.head_timeout
        if self.loop.time() >= deadline - TIMER_SLACK:
            self._refuse(TIMED_OUT)
        else:  # a later head than the one this timer was started for: wait for its deadline
            self._head_timer = self.loop.call_at(deadline, self._check_head)

    def _refuse(self, response: bytes) -> None:
        self._cancel_head_timer()
        if not self.transport.is_closing():
            self.transport.write(response)
            self.transport.close()
