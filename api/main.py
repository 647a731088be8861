"""The API's ASGI app: `uvicorn api.main:app` (port 3001).

`create_app(settings)` builds it; the module-level `app` is built on first access, so a
missing or placeholder setting stops start-up with one clear sentence.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.telemetry import TelemetryConfig

from api.bearer import request_scheme
from api.config import DPOP_ALGORITHMS, Settings, SettingsError, get_settings
from api.dpop import DpopPolicy
from api.errors import AuthError, IssuerUnavailable
from api.jwks import JwksCache
from api.logs import configure_logging
from api.middleware import ApiEdge
from api.proof import ProofVerifier
from api.replay import ReplayCache
from api.routes import add_routes
from api.verify import TokenVerifier

logger = logging.getLogger("api")
# FastAPI's native OpenTelemetry off, unless API_TELEMETRY asks for it (api/config.py).
NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        timeout = httpx.Timeout(settings.http_timeout)
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
            keys = JwksCache(
                client,
                settings.issuer,
                max_age=settings.cache_max_age,
                cooldown=settings.jwks_cooldown,
                failure_backoff=settings.issuer_retry_after,
            )
            app.state.jwks = keys
            app.state.verifier = TokenVerifier(
                keys,
                audience=settings.auth0_audience,
                algorithms=settings.algorithms,
                clock_tolerance=settings.clock_tolerance,
            )
            logger.info(
                "validating tokens from %s for %s", settings.issuer, settings.auth0_audience
            )
            yield

    app = FastAPI(
        title="Auth0 sample API",
        description="Validates Auth0 access tokens (RS256) like express-oauth2-jwt-bearer.",
        lifespan=lifespan,
        telemetry=None if settings.api_telemetry else NO_TELEMETRY,
    )
    app.state.settings = settings
    app.state.dpop = _dpop_policy(settings)
    add_routes(app.router)
    app.add_exception_handler(AuthError, _auth_error_response)  # type: ignore[arg-type]
    app.add_middleware(ApiEdge, allow_origins=settings.cors_allowed_origins)
    return app


def _dpop_policy(settings: Settings) -> DpopPolicy:
    replay = ReplayCache(
        window=settings.dpop_proof_max_age, max_entries=settings.dpop_replay_cache_size
    )
    proofs = ProofVerifier(
        algorithms=DPOP_ALGORITHMS,
        max_age=settings.dpop_proof_max_age,
        leeway=settings.dpop_proof_leeway,
        replay=replay,
    )
    return DpopPolicy(settings.dpop_mode, proofs)


async def _auth_error_response(request: Request, exc: AuthError) -> JSONResponse:
    """The one place authorization failures become RFC 6750 / RFC 9449 responses."""
    headers: dict[str, str] = {}
    challenge = exc.challenge(request.app.state.settings.dpop_mode, request_scheme(request))
    if challenge is not None:
        headers["WWW-Authenticate"] = challenge
    if isinstance(exc, IssuerUnavailable):
        headers["Retry-After"] = str(request.app.state.settings.issuer_retry_after)
    body = {"error": exc.error or "unauthorized", "error_description": exc.description}
    return JSONResponse(body, status_code=exc.status_code, headers=headers)


def __getattr__(name: str) -> Any:
    """Build `app` on first access; bad settings end the process with one clear sentence."""
    if name != "app":
        raise AttributeError(name)
    configure_logging()
    try:
        application = create_app()
    except SettingsError as exc:
        sys.exit(f"api: cannot start: {exc}")
    globals()["app"] = application
    return application
