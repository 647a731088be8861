"""The real web app plus one benchmark-only route that fills its session store.

`uvicorn --factory bench.seeding:create_seeded_app` serves `app.main.create_app()` unchanged
(settings from the environment) with `POST /_bench/seed?count=N` added.  The route copies
the caller's own stored session record, a real logged-in session with its ID, access and
refresh tokens, into N new records under fresh random ids, through the app's own store,
and links each copy for back-channel logout as a login does (`link_session`), under a
tenant session and a user of its own: 10,000 sessions of 10,000 users.

Why copies rather than N logins: the dev tenant spends tens of milliseconds signing the
tokens of each login, so 10,000 real logins take many minutes; a copy has exactly the size
and shape of a real session, which is what the memory benchmark measures.
"""

from __future__ import annotations

import secrets
from typing import Any, cast

from fastapi import FastAPI, HTTPException, Request

from app.backchannel import link_session
from app.config import SESSION_COOKIE, Settings
from app.main import create_app
from app.memory_store import MemorySessionStore
from app.session_middleware import ServerSessionMiddleware
from app.session_packing import pack
from app.session_state import SESSION_ID_BYTES
from app.session_store import SessionRecord, SessionStore, encode_record

SEED_PATH = "/_bench/seed"
SEED_TTL = 60 * 60  # seconds the copies live: longer than any benchmark run


def _store(app: FastAPI) -> SessionStore:
    for middleware in app.user_middleware:
        if middleware.cls is cast(Any, ServerSessionMiddleware):
            return cast(SessionStore, middleware.kwargs["store"])
    raise LookupError("the app has no session middleware")


def held_bytes(store: SessionStore, record: SessionRecord) -> int:
    """Bytes of `record` as `store` holds it: packed in the memory store, JSON in Redis."""
    return len(pack(record) if isinstance(store, MemorySessionStore) else encode_record(record))


def create_seeded_app() -> FastAPI:
    app = create_app()
    store = _store(app)
    issuer = cast(Settings, app.state.settings).issuer

    async def seed(request: Request, count: int) -> dict[str, int]:
        cookie = request.cookies.get(SESSION_COOKIE, "")
        record = await store.load(cookie.split(".")[0]) if cookie else None
        if not record or "user" not in record:
            raise HTTPException(400, "log in first: the copies are of the caller's session")
        for _ in range(count):
            session_id = secrets.token_urlsafe(SESSION_ID_BYTES)
            await store.save(session_id, dict(record), SEED_TTL)
            # Linked as /callback links a login: under its tenant session and its user.
            claims = {"sid": secrets.token_urlsafe(16), "sub": f"auth0|{secrets.token_hex(12)}"}
            await link_session(store, session_id, issuer, claims, SEED_TTL)
        return {
            "seeded": count,
            "record_bytes": len(encode_record(record)),
            "held_bytes": held_bytes(store, record),
        }

    app.add_api_route(SEED_PATH, seed, methods=["POST"], include_in_schema=False)
    return app
