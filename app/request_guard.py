"""What an unsafe request must show before the app reads a byte of its body.

Pure ASGI middleware inside the session middleware (it needs the session's CSRF token):

- `/api/*` (the proxy streams bodies to the API): the call must come from our own page,
  by the browser's word and by the `X-CSRF-Token` header (app/csrf.py `check_proxy_call`).
- everything else (forms): no foreign `Origin`/`Sec-Fetch-Site`, and a session that holds
  a CSRF token at all; then the body is read, at most MAX_FORM_BYTES of it (413 beyond), and
  handed to the route, whose `CsrfProtected` dependency compares the token it carries;
  a body that takes more than FORM_BODY_TIMEOUT to arrive is a 408.

So an anonymous 200 MB `POST /logout` is refused on its headers, and no form bigger than
64 kB is ever parsed.  Refusals go through the app's one error mapping.

One path is exempt: `POST /backchannel-logout`, whose caller is the tenant's server (no
browser, no session, no CSRF token); its signed logout token is the proof, and the route
caps its body itself (app/backchannel.py).
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.backchannel import PATH as BACKCHANNEL_PATH
from app.csrf import SAFE_METHODS, check_proxy_call, check_same_origin, session_token
from app.errors import CsrfError, RequestTimeout, RequestTooLarge
from app.exception_handlers import error_response
from app.proxy import PROXY_PREFIX

MAX_FORM_BYTES = 64 * 1024  # the app's forms are a token and a field or two
FORM_BODY_TIMEOUT = 10.0  # seconds a form body may take to arrive (408 beyond)
SERVER_TO_SERVER_PATHS = frozenset({BACKCHANNEL_PATH})


class RequestGuard:
    def __init__(
        self,
        app: ASGIApp,
        max_form_bytes: int = MAX_FORM_BYTES,
        form_body_timeout: float = FORM_BODY_TIMEOUT,
    ) -> None:
        self.app = app
        self.max_form_bytes = max_form_bytes
        self.form_body_timeout = form_body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] in SAFE_METHODS
            or scope["path"] in SERVER_TO_SERVER_PATHS
        ):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            if scope["path"].startswith(PROXY_PREFIX):
                check_proxy_call(request)
            else:
                check_same_origin(request)
                session_token(request)
                receive = await self._buffered(request, receive)
        except (CsrfError, RequestTooLarge, RequestTimeout) as exc:
            response = await error_response(request, exc)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _buffered(self, request: Request, receive: Receive) -> Receive:
        """The whole body, read up to `max_form_bytes`, replayed to the app as one message."""
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_form_bytes:
            raise RequestTooLarge  # refused without reading
        try:
            async with asyncio.timeout(self.form_body_timeout):
                return await self._read(receive)
        except TimeoutError as exc:
            raise RequestTimeout from exc

    async def _read(self, receive: Receive) -> Receive:
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return _replay(message, receive)
            body += message.get("body", b"")
            if len(body) > self.max_form_bytes:
                raise RequestTooLarge
            more = message.get("more_body", False)
        return _replay({"type": "http.request", "body": bytes(body)}, receive)


def _replay(first: Message, receive: Receive) -> Receive:
    """A receive callable that answers `first` once, then whatever `receive` says."""
    pending = [first]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed
