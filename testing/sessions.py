"""Read and age the app's server-side session records, as time or another process would."""

from __future__ import annotations

import time
from typing import Any

import httpx

from app.config import SESSION_COOKIE
from app.session_middleware import ServerSessionMiddleware
from app.session_store import SessionStore
from app.session_tokens import TOKENS_KEY
from testing.live_stack import LiveStack

SAVE_TTL = 60 * 60  # seconds a record rewritten by a test stays in the store


def session_store(stack: LiveStack) -> SessionStore:
    """The app's own session store (the middleware's), to read or age a record."""
    for middleware in stack.app.app.user_middleware:
        if middleware.cls is ServerSessionMiddleware:
            store: SessionStore = middleware.kwargs["store"]
            return store
    raise AssertionError("the app has no session middleware")


def session_id(browser: httpx.AsyncClient) -> str:
    """The id in the browser's signed session cookie (id.timestamp.signature)."""
    cookie = browser.cookies.get(SESSION_COOKIE)
    assert cookie, "the browser has no session cookie"
    return cookie.split(".")[0]


async def session_record(stack: LiveStack, browser: httpx.AsyncClient) -> dict[str, Any]:
    record = await session_store(stack).load(session_id(browser))
    assert record is not None, "the browser's session is not in the store"
    return dict(record)


async def age_access_tokens(stack: LiveStack, browser: httpx.AsyncClient) -> None:
    """Make the session's access tokens expired, as time would: the next use must refresh."""
    record = await session_record(stack, browser)
    for token_set in record[TOKENS_KEY].values():
        token_set["expires_at"] = time.time() - 1
    await session_store(stack).save(session_id(browser), record, SAVE_TTL)
