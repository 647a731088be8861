"""The server-rendered pages: home, external API, profile, error."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import MutableMapping
from typing import Annotated, Any, NamedTuple
from urllib.parse import quote

import httpx
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from app.csrf import CsrfProtected
from app.deps import HttpDep, SettingsDep, TokenSourceDep, UserDep
from app.errors import TokenUnavailable, WrongAudience
from app.templating import THEME_KEY, render, render_error
from app.token_source import TokenSource, token_extensions

log = logging.getLogger("app.pages")
router = APIRouter(tags=["pages"])

# The API routes the External API page calls (same paths through the /api proxy).
API_ENDPOINTS = {
    "external": "/api/external",
    "public": "/api/public",
    "private-scoped": "/api/private-scoped",
}
# One message per failure; the page's script reads the same texts from data attributes
# and picks one by the same rules (static/app.js).
API_MESSAGES = {
    "login_required": "Your session has expired or you are logged out: log in again.",
    "forbidden": "Your access token lacks the scope this endpoint needs (read:messages).",
    "api_down": (
        "The web app could not connect to the API. Is it running? "
        "Start it with: uv run honcho start api"
    ),
    "api_timeout": "The API did not answer in time. Try again in a moment.",
    "issuer_unavailable": (
        "The API cannot reach the identity provider's signing keys; it retries by itself. "
        "Try again in a few seconds."
    ),
    "api_error": "The API answered with an unexpected error.",
}
# The proxy's 502/504 (app/proxy.py) and the API's own answers, by status.
API_ERRORS_BY_STATUS = {
    401: "login_required",
    403: "forbidden",
    502: "api_down",
    504: "api_timeout",
}
# The error code the API sends with its 503 when discovery or the JWKS cannot be fetched.
ISSUER_UNAVAILABLE_ERROR = "temporarily_unavailable"
THEMES = ("system", "light", "dark")
MAX_REASON = 200  # characters of a Management API error message shown and logged
SAVE_STATUS = {"saved": "Theme saved.", "failed": "The theme could not be saved."}
GRANT_URL = "/login/management?returnTo=/profile"  # asks Auth0 for a Management API token
FLASH_KEY = "flash"  # session key: the outcome of the last save, shown once


@router.get("/")
async def home(request: Request) -> Response:
    return render(request, "home.html")


@router.get("/error")
async def error_page(request: Request, code: str | None = None) -> Response:
    return render_error(request, code)


@router.get("/external-api")
async def external_api(request: Request, settings: SettingsDep, _user: UserDep) -> Response:
    return _external_api_page(request, settings.auth0_audience, None)


@router.post("/external-api")
async def external_api_call(
    request: Request,
    settings: SettingsDep,
    http: HttpDep,
    tokens: TokenSourceDep,
    _user: UserDep,
    _csrf: CsrfProtected,
    endpoint: Annotated[str, Form()] = "external",
) -> Response:
    """The no-JavaScript path: the server calls the API and renders the answer."""
    path = API_ENDPOINTS.get(endpoint, API_ENDPOINTS["external"])
    started = time.perf_counter()
    try:
        response = await http.get(
            f"{settings.api_base_url}{path}", extensions=token_extensions(tokens)
        )
    except TokenUnavailable:
        result: dict[str, Any] = {"error": "login_required"}
    except httpx.TimeoutException:
        result = {"error": "api_timeout"}
    except httpx.HTTPError:
        result = {"error": "api_down"}
    else:
        result = _api_result(response)
    result.update(path=path, elapsed_ms=round((time.perf_counter() - started) * 1000))
    return _external_api_page(request, settings.auth0_audience, result)


def _api_result(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    status = response.status_code
    if status == 200:
        if body is None:
            return {"status": status, "error": "api_error"}
        return {"status": status, "json": json.dumps(body, indent=2)}
    return {"status": status, "error": api_error_code(status, body)}


def api_error_code(status: int, body: Any) -> str:
    """Which API_MESSAGES entry explains a failed API call (static/app.js has the same rules)."""
    error = body.get("error") if isinstance(body, dict) else None
    if status == 503 and error == ISSUER_UNAVAILABLE_ERROR:
        return "issuer_unavailable"
    return API_ERRORS_BY_STATUS.get(status, "api_error")


def _external_api_page(request: Request, audience: str, result: dict[str, Any] | None) -> Response:
    if result and "error" in result:
        result["message"] = API_MESSAGES[result["error"]]
    context = {
        "audience": audience,
        "endpoints": API_ENDPOINTS,
        "messages": API_MESSAGES,
        "errors_by_status": API_ERRORS_BY_STATUS,
        "result": result,
    }
    return render(request, "external_api.html", context)


def _user_url(issuer: str, sub: str) -> str:
    return f"{issuer}api/v2/users/{quote(sub, safe='')}"


@router.get("/profile")
async def profile(
    request: Request,
    settings: SettingsDep,
    http: HttpDep,
    tokens: TokenSourceDep,
    user: UserDep,
) -> Response:
    url = _user_url(settings.issuer, user["sub"])
    metadata = await _user_metadata(http, tokens, url)
    if metadata.value is not None:
        remember_theme(request.session, metadata.value.get("theme"))
    context = {
        "claims": json.dumps(user, indent=2),
        "metadata": metadata.value,
        "metadata_unavailable": metadata.unavailable,
        "grant_url": GRANT_URL if metadata.grantable else None,
        "metadata_json": json.dumps(metadata.value, indent=2) if metadata.value is not None else "",
        "themes": THEMES,
        # Shown once: a reload after Post/Redirect/Get does not repeat it.
        "status_message": SAVE_STATUS.get(request.session.pop(FLASH_KEY, None) or ""),
    }
    return render(request, "profile.html", context)


def remember_theme(session: MutableMapping[str, Any], theme: object) -> None:
    """Keep the user's `user_metadata.theme` in the session, so every page can apply it."""
    value = theme if theme in THEMES else None
    if session.get(THEME_KEY) != value:  # only a change rewrites the session
        session[THEME_KEY] = value


class Metadata(NamedTuple):
    """`user_metadata`, or None with why it is unavailable and whether granting could help."""

    value: dict[str, Any] | None
    unavailable: str = ""
    # A refresh got a token for another API, as Auth0 answers for its Management API (which
    # MRRT cannot include): /login/management may get one by authorization instead.
    grantable: bool = False


async def _user_metadata(http: httpx.AsyncClient, tokens: TokenSource, url: str) -> Metadata:
    try:
        response = await http.get(url, extensions=token_extensions(tokens))
        if not response.is_success:
            return Metadata(None, management_refusal(response))
        body = response.json()
    except TokenUnavailable as exc:
        reason = exc.description or f"no token for the Management API ({exc.error})"
        return Metadata(None, reason, grantable=isinstance(exc, WrongAudience))
    except httpx.HTTPError:
        return Metadata(None, "the Management API could not be reached")
    except ValueError:
        return Metadata(None, "the Management API answered something that is not JSON")
    metadata = body.get("user_metadata") if isinstance(body, dict) else None
    return Metadata(metadata if isinstance(metadata, dict) else {})


def management_refusal(response: httpx.Response) -> str:
    """Why the Management API said no, logged and returned (its messages hold no secrets)."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    message = body.get("message") if isinstance(body, dict) else None
    reason = " ".join(str(message or response.reason_phrase).split())[:MAX_REASON]
    # The method only, not the path: it holds the user's id.
    log.warning(
        "Management API %s of the user answered %d: %s",
        response.request.method,
        response.status_code,
        reason,
    )
    return f"the Management API answered {response.status_code}: {reason}"


@router.post("/profile")
async def save_profile(
    request: Request,
    settings: SettingsDep,
    http: HttpDep,
    tokens: TokenSourceDep,
    user: UserDep,
    _csrf: CsrfProtected,
    theme: Annotated[str, Form()] = "",
) -> RedirectResponse:
    """Saves the theme in `user_metadata`, then redirects (POST-redirect-GET)."""
    outcome = "failed"
    if theme in THEMES:
        try:
            response = await http.patch(
                _user_url(settings.issuer, user["sub"]),
                json={"user_metadata": {"theme": theme}},
                extensions=token_extensions(tokens),
            )
            if response.is_success:
                outcome = "saved"
            else:
                management_refusal(response)
        except TokenUnavailable as exc:
            log.warning("theme not saved: %s", exc.description or exc.error)
        except httpx.HTTPError:
            log.warning("theme not saved: the Management API could not be reached")
    if outcome == "saved":
        remember_theme(request.session, theme)
    request.session[FLASH_KEY] = outcome
    return RedirectResponse("/profile", status_code=303)
