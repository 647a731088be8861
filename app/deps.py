"""Request-scoped dependencies on what the lifespan and `create_app` put on `app.state`."""

from __future__ import annotations

from typing import Annotated, Any, cast

import httpx
from fastapi import Depends, Request

from app.config import Settings


# Dependencies are `async def` on purpose: FastAPI runs a plain `def` dependency in a
# worker thread, which costs more per request than these lookups.
async def get_app_settings(request: Request) -> Settings:
    return cast(Settings, request.app.state.settings)


async def get_http(request: Request) -> httpx.AsyncClient:
    """The process's one shared client (made in the lifespan)."""
    return cast(httpx.AsyncClient, request.app.state.http)


def current_user(request: Request) -> dict[str, Any] | None:
    """The logged-in user's profile claims from the session, or None."""
    if "session" not in request.scope:  # the session store failed before the handler ran
        return None
    user = request.session.get("user")
    return cast(dict[str, Any], user) if isinstance(user, dict) else None


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
HttpDep = Annotated[httpx.AsyncClient, Depends(get_http)]
