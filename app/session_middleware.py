"""Server-side sessions: the cookie holds only a signed random id, the data stays on the server.

`ServerSessionMiddleware` loads the record the cookie points at into `scope["session"]` (a
plain dict, so `request.session` and Authlib's Starlette client work unchanged) and, when
the response starts, saves it if it changed, refreshes its idle expiry, or deletes it and
expires the cookie once it is empty (`request.session.clear()` is logout).

Expiry is enforced twice: the store forgets records after the idle timeout, and each record
carries `_created` and `_seen` so a record is refused once either limit has passed, even if
a store kept it.  Those two keys are reserved and never appear in `request.session`; other
`_` keys (Authlib's `_state_*`) are ordinary session data.

Concurrent requests of one session (on any number of workers) never lose each other's
updates: a response saves only the keys its request changed, merged into the latest
stored record by the store's atomic `modify`, and a record deleted meanwhile (logout,
back-channel logout) stays deleted.  Code that writes to the store itself while the
request runs (a token refresh) calls `mark_persisted` so the response does not write the
same keys again over a newer value.
"""

from __future__ import annotations

import math
import time
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import SESSION_ABSOLUTE_TIMEOUT, SESSION_COOKIE, SESSION_IDLE_TIMEOUT
from app.errors import SessionStoreUnavailable
from app.exception_handlers import session_store_unavailable_response
from app.session_signer import SessionSigner
from app.session_state import (
    SCOPE_STATE,
    SessionState,
    changed_keys,
    new_session_id,
    snapshot,
)
from app.session_store import SessionRecord, SessionStore

SESSION_SALT = "app.session"  # separates session-cookie signatures from any other use of the key
CREATED = "_created"  # reserved record key: when this id was issued (Unix time)
SEEN = "_seen"  # reserved record key: when the record was last saved (Unix time)
RESERVED_KEYS = frozenset({CREATED, SEEN})
# Refreshing the idle expiry costs a store write; do it at most this often per session
# (or after a tenth of the idle timeout, when that is shorter).
REFRESH_INTERVAL = 60.0
USER_KEY = "user"  # set at /callback: a session without it is a login in progress
# Seconds a session without a user is kept: time enough to get through the tenant's login
# page, not a place for a flood of cookie-less /login calls to settle in.
PENDING_LOGIN_TTL = 15 * 60


class ServerSessionMiddleware:
    """Pure ASGI middleware keeping `scope["session"]` in a SessionStore (see module doc).

    A store failure answers the request with the 503 page itself: the app's exception
    handlers run inside this middleware and would never see it.
    """

    def __init__(
        self,
        app: ASGIApp,
        store: SessionStore,
        secret: str,
        *,
        cookie_name: str = SESSION_COOKIE,
        idle_timeout: int = SESSION_IDLE_TIMEOUT,
        absolute_timeout: int = SESSION_ABSOLUTE_TIMEOUT,
        secure: bool = False,
    ) -> None:
        if not secret:
            raise ValueError("ServerSessionMiddleware needs a non-empty secret")
        self.app = app
        self.store = store
        self.signer = SessionSigner(secret, SESSION_SALT, absolute_timeout)
        self.cookie_name = cookie_name
        self.idle_timeout = idle_timeout
        self.absolute_timeout = absolute_timeout
        self.secure = secure
        self.refresh_interval = min(REFRESH_INTERVAL, idle_timeout / 10)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        try:
            state, data = await self._load(connection)
        except SessionStoreUnavailable:
            await self._unavailable(connection, receive, send)
            return
        scope["session"] = data
        scope[SCOPE_STATE] = state
        replaced = False

        async def send_with_session(message: Message) -> None:
            nonlocal replaced
            if replaced:  # the 503 went out instead; drop the app's response
                return
            if message["type"] == "http.response.start":
                try:
                    cookie = await self._commit(scope["session"], state)
                except SessionStoreUnavailable:
                    replaced = True
                    await self._unavailable(connection, receive, send)
                    return
                if cookie is not None:
                    MutableHeaders(scope=message).append("set-cookie", cookie)
            await send(message)

        await self.app(scope, receive, send_with_session)

    async def _unavailable(self, connection: HTTPConnection, receive: Receive, send: Send) -> None:
        response = session_store_unavailable_response(connection)
        await response(connection.scope, receive, send)

    def _expired(self, record: SessionRecord, now: float) -> bool:
        created, seen = record.get(CREATED), record.get(SEEN)
        if not isinstance(created, int | float) or not isinstance(seen, int | float):
            return True  # not a record this middleware wrote
        return now >= created + self.absolute_timeout or now >= seen + self.idle_timeout

    async def _load(self, connection: HTTPConnection) -> tuple[SessionState, dict[str, Any]]:
        now = time.time()
        cookie = connection.cookies.get(self.cookie_name)
        sid = self.signer.session_id(cookie) if cookie else None
        record = await self.store.load(sid) if sid else None
        if sid and record is not None and self._expired(record, now):
            await self.store.delete(sid)
            record = None
        if sid is None or record is None:
            return SessionState(None, cookie is not None, now, now, {}), {}
        created, seen = float(record.pop(CREATED)), float(record.pop(SEEN))
        return SessionState(sid, True, created, seen, snapshot(record)), record

    async def _commit(self, data: dict[str, Any], state: SessionState) -> str | None:
        """Persist the session after the app ran; the Set-Cookie value to send, if any."""
        now = time.time()
        if not data:
            if state.sid is not None:
                await self.store.delete(state.sid)
            return self._expired_cookie() if state.had_cookie else None
        if state.sid is None or state.rotate_to is not None:
            old_sid, state.created = state.sid, now
            state.sid, state.rotate_to = state.rotate_to or new_session_id(), None
            await self._save(state.sid, data, state, now)
            if old_sid is not None:
                await self.store.delete(old_sid)
            return self._cookie(self.signer.sign(state.sid).decode(), self._remaining(state, now))
        changed = changed_keys(data, state.snapshot)
        removed = state.snapshot.keys() - data.keys()
        if not changed and not removed and now - state.seen < self.refresh_interval:
            return None
        merged = await self._merge(state, changed, removed, now)
        # Deleted meanwhile (logged out elsewhere): stays deleted, and the cookie goes.
        return None if merged else self._expired_cookie()

    def _remaining(self, state: SessionState, now: float) -> int:
        """Whole seconds until the absolute timeout, at least 1."""
        return max(1, math.ceil(state.created + self.absolute_timeout - now))

    async def _merge(
        self, state: SessionState, changed: dict[str, Any], removed: set[str], now: float
    ) -> bool:
        """Apply this request's changes to the latest record; False if it no longer exists."""
        assert state.sid is not None
        refresh_after = now - self.refresh_interval

        def change(record: SessionRecord) -> SessionRecord | None:
            seen = record.get(SEEN)
            if (
                not changed
                and not removed
                and isinstance(seen, int | float)
                and seen > refresh_after
            ):
                return None  # another request just refreshed the idle expiry
            for key in removed:
                record.pop(key, None)
            return {**record, **changed, SEEN: now}

        ttl = min(self.idle_timeout, self._remaining(state, now))
        return await self.store.modify(state.sid, change, ttl) is not None

    async def _save(self, sid: str, data: dict[str, Any], state: SessionState, now: float) -> None:
        record = {**data, CREATED: state.created, SEEN: now}
        ttl = min(self.idle_timeout, self._remaining(state, now))
        pending = USER_KEY not in data  # a login in progress: short-lived, kept apart
        if pending:
            ttl = min(ttl, PENDING_LOGIN_TTL)
        await self.store.save(sid, record, ttl, pending=pending)

    def _cookie(self, value: str, max_age: int) -> str:
        parts = [f"{self.cookie_name}={value}", "Path=/", f"Max-Age={max_age}"]
        if max_age == 0:
            parts.append("Expires=Thu, 01 Jan 1970 00:00:00 GMT")
        parts += ["HttpOnly", "SameSite=Lax"]
        if self.secure:
            parts.append("Secure")
        return "; ".join(parts)

    def _expired_cookie(self) -> str:
        return self._cookie("", 0)
