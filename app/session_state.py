"""A request's session as the session middleware tracks it, and what routes may ask of it.

`ServerSessionMiddleware` (app/session_middleware.py) puts a `SessionState` in the ASGI
scope; the helpers here (rotate the id at login, which id the session is stored under,
keys a refresh already wrote to the store) work on it from routes and dependencies, which
must not import the middleware itself.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

from starlette.requests import HTTPConnection

from app.csrf import CSRF_SESSION_KEY

SESSION_ID_BYTES = 32  # 256 random bits per id
SCOPE_STATE = "app.session_state"


@dataclass
class SessionState:
    """What the middleware remembers about one request's session between load and save."""

    sid: str | None  # id of the stored record; None for a new session
    had_cookie: bool  # the request sent our cookie (maybe stale): expire it if nothing is saved
    created: float
    seen: float
    snapshot: dict[str, str]  # each key's value as loaded, serialized: what the request changed
    rotate_to: str | None = None  # the new id rotate_session() chose, saved at commit


def dump(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def snapshot(data: dict[str, Any]) -> dict[str, str]:
    return {key: dump(value) for key, value in data.items()}


def state_of(request: HTTPConnection) -> SessionState:
    state = request.scope.get(SCOPE_STATE)
    if not isinstance(state, SessionState):
        raise RuntimeError("the session helpers need ServerSessionMiddleware around the app")
    return state


def session_id(request: HTTPConnection) -> str | None:
    """The id the session is stored under once this response is sent (None: not yet saved)."""
    state = state_of(request)
    return state.rotate_to or state.sid


def mark_persisted(request: HTTPConnection, *keys: str) -> None:
    """Record that `keys` of `request.session` are already in the store as they are now,
    so the response does not write them again (over a value another worker saved since)."""
    state = state_of(request)
    for key in keys:
        if key in request.session:
            state.snapshot[key] = dump(request.session[key])
        else:
            state.snapshot.pop(key, None)


def new_session_id() -> str:
    return secrets.token_urlsafe(SESSION_ID_BYTES)


def rotate_session(request: HTTPConnection) -> str:
    """Give the session a new id when this response is sent, and delete the old record.

    Call it at login: an id an attacker planted or saw before login (session fixation) is
    worthless afterwards.  The CSRF token goes too, since the attacker may know it.
    Returns the new id, so login can index the session under it (back-channel logout).
    """
    state = state_of(request)
    if state.rotate_to is None:
        state.rotate_to = new_session_id()
    request.session.pop(CSRF_SESSION_KEY, None)
    return state.rotate_to
