"""A request's session as the session middleware tracks it, and what routes may ask of it.

`ServerSessionMiddleware` (app/session_middleware.py) puts a `SessionState` in the ASGI
scope; the helpers here (rotate the id at login, which id the session is stored under,
keys a refresh already wrote to the store) work on it from routes and dependencies, which
must not import the middleware itself.
"""

from __future__ import annotations

import marshal
import secrets
from dataclasses import dataclass
from typing import Any

from starlette.requests import HTTPConnection

from app.csrf import CSRF_SESSION_KEY

SESSION_ID_BYTES = 32  # 256 random bits per id
SCOPE_STATE = "app.session_state"
# marshal's format 2 writes no back-references and no interning marks, so equal values of
# the same types in the same order always give the same bytes (later formats depend on
# reference counts); per process only, never stored.
FINGERPRINT_FORMAT = 2


@dataclass
class SessionState:
    """What the middleware remembers about one request's session between load and save."""

    sid: str | None  # id of the stored record; None for a new session
    had_cookie: bool  # the request sent our cookie (maybe stale): expire it if nothing is saved
    created: float
    seen: float
    snapshot: dict[str, bytes | None]  # each key's fingerprint as loaded: what the request changed
    rotate_to: str | None = None  # the new id rotate_session() chose, saved at commit


def fingerprint(value: Any) -> bytes | None:
    """Bytes that are equal for two values only if they are equal, with the same types and
    key order (so a value the request changed never looks unchanged; a dict merely
    reordered counts as changed, which costs one write).  A tenth of the time of JSON with
    sorted keys.  None for a value marshal cannot write: not JSON-shaped, always changed."""
    try:
        return marshal.dumps(value, FINGERPRINT_FORMAT)
    except ValueError:
        return None


def snapshot(data: dict[str, Any]) -> dict[str, bytes | None]:
    """Each key's fingerprint."""
    try:  # one comprehension without a call per key: this runs twice per request
        return {key: marshal.dumps(value, FINGERPRINT_FORMAT) for key, value in data.items()}
    except ValueError:
        return {key: fingerprint(value) for key, value in data.items()}


def changed_keys(data: dict[str, Any], loaded: dict[str, bytes | None]) -> dict[str, Any]:
    """The items of `data` whose values differ from their fingerprints as `loaded`."""
    now = snapshot(data)
    return {key: data[key] for key, held in now.items() if held is None or held != loaded.get(key)}


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
            state.snapshot[key] = fingerprint(request.session[key])
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
