"""Refreshing a session's tokens once, however many requests and processes need it.

Rotating refresh tokens may be spent once: a second use is reuse, and the tenant revokes
the session's whole token family (the user is logged out).  So a refresh is merged twice:

- within a process, `RefreshCoordinator` turns concurrent refreshes of one session (same
  refresh token, audience and scope) into one task whose answer they all share;
- across processes (several workers or hosts on one Redis), `SharedSession.update` runs
  that task under the session's lock in the store.  Under the lock it re-reads the record:
  if another process refreshed meanwhile, its tokens are used as they are; otherwise the
  refresh runs and its tokens are written into the record before the lock is released.

A lock holder that dies frees the lock when its time-to-live ends; the update itself is
cut off before then, so two holders never overlap.  One lock per session (not per
audience), since every audience is refreshed with the session's one refresh token.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import HTTPConnection

from app.errors import LockTimeout, TokenUnavailable
from app.session_state import mark_persisted
from app.session_store import Change, SessionRecord, SessionStore

REFRESH_REUSE_GRACE = 10.0  # seconds a finished refresh answers requests holding the old token
LOCK_PREFIX = "refresh:"
LOCK_MARGIN = 1.0  # seconds between the refresh's deadline and the lock's expiry


class RefreshCoordinator:
    """Merges concurrent refreshes of one session within this process into one task.

    Requests of one session hold the same refresh token (it is a per-session secret), so a
    digest of it and the wanted audience and scope is the key.  A finished refresh stays
    visible for `REFRESH_REUSE_GRACE` seconds: a request that loaded the session before the
    rotated refresh token was saved gets the same answer instead of replaying the old token.
    """

    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task[dict[str, Any]]] = {}

    async def run(
        self, refresh_token: str, key: str, refresh: Callable[[], Awaitable[dict[str, Any]]]
    ) -> dict[str, Any]:
        digest = hashlib.sha256(f"{refresh_token}\n{key}".encode()).hexdigest()
        task = self._tasks.get(digest)
        if task is None:
            task = asyncio.ensure_future(refresh())
            self._tasks[digest] = task
            task.add_done_callback(lambda done: self._forget_later(digest, done))
        # shield: one cancelled request must not cancel the refresh others are waiting on
        return await asyncio.shield(task)

    def _forget_later(self, digest: str, task: asyncio.Task[dict[str, Any]]) -> None:
        if task.cancelled() or task.exception() is not None:
            self._tasks.pop(digest, None)  # failures are retried by the next request
        else:
            asyncio.get_running_loop().call_later(
                REFRESH_REUSE_GRACE, self._tasks.pop, digest, None
            )


@dataclass
class SharedSession:
    """A request's session as stored, so its refresh can be coordinated across processes."""

    store: SessionStore
    session_id: str
    lock_ttl: float
    request: HTTPConnection

    async def update(
        self, decide: Callable[[SessionRecord], Awaitable[Change | None]]
    ) -> SessionRecord:
        """Under the session's lock: `decide(latest record)` returns the change to store
        (after refreshing), or None when the record already has what is wanted.  The record
        as stored afterwards is returned."""
        name = LOCK_PREFIX + hashlib.sha256(self.session_id.encode()).hexdigest()
        try:
            async with self.store.locks.hold(name, self.lock_ttl, wait=self.lock_ttl + LOCK_MARGIN):
                return await self._update_locked(decide)
        except LockTimeout:
            raise TokenUnavailable(
                "token_endpoint_unavailable", "A refresh is taking too long."
            ) from None

    async def _update_locked(
        self, decide: Callable[[SessionRecord], Awaitable[Change | None]]
    ) -> SessionRecord:
        record = await self.store.load(self.session_id)
        if record is None:
            raise TokenUnavailable("login_required", "The session has ended.")
        try:
            async with asyncio.timeout(self.lock_ttl - LOCK_MARGIN):
                change = await decide(record)
        except TimeoutError:
            raise TokenUnavailable(
                "token_endpoint_unavailable", "The tenant is too slow."
            ) from None
        if change is None:
            return record
        updated = await self.store.modify(self.session_id, change)
        if updated is None:
            raise TokenUnavailable("login_required", "The session has ended.")
        return updated

    def adopt(self, record: SessionRecord, *keys: str) -> None:
        """Copy `keys` of the stored record into the request's session, as already saved."""
        session = self.request.session
        for key in keys:
            if key in record:
                session[key] = record[key]
            else:
                session.pop(key, None)
        mark_persisted(self.request, *keys)
