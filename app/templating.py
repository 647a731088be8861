"""Jinja2 rendering with what every page's layout needs (user, CSRF token, nav state)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates
from starlette.requests import Request
from starlette.responses import Response

from app.csrf import csrf_token
from app.deps import app_settings, current_user

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = ROOT / "templates"
STATIC_DIR = ROOT / "static"

# Jinja2Templates turns autoescape on for .html: nothing rendered can inject markup.
templates = Jinja2Templates(directory=TEMPLATES_DIR)

# The friendly text for every error code a page may show; anything else is "unknown".
ERROR_MESSAGES: dict[str, tuple[str, str]] = {
    "access_denied": (
        "Access was denied.",
        "You cancelled the login, or the tenant refused it. Log in again to continue.",
    ),
    "state_mismatch": (
        "The login response did not match a login started in this browser.",
        "It may have expired or been used twice. Start again from the Log in button.",
    ),
    "login_failed": (
        "The login could not be completed.",
        "Try logging in again. If it keeps failing, check the application's client settings.",
    ),
    "invalid_id_token": (
        "The identity provider sent an ID token that did not verify.",
        "Check that the issuer and client id are right, then log in again.",
    ),
    "login_required": ("Your session has ended.", "Log in again to continue."),
    "consent_required": ("Consent is needed.", "Log in again and accept the requested access."),
    "interaction_required": ("The tenant needs you.", "Log in again to continue."),
    "tenant_unavailable": (
        "The identity provider could not be reached.",
        # Neutral on purpose: under ./scripts/dev honcho stops all three servers when one dies.
        "Check the issuer below and that it is running (under ./scripts/dev: restart "
        "./scripts/dev), then try again.",
    ),
    "issuer_mismatch": (
        "The identity provider names a different issuer than the one configured.",
        "Check AUTH0_ISSUER_BASE_URL (or AUTH0_DOMAIN): it must be the issuer its discovery "
        "document names, a trailing slash aside.",
    ),
    "csrf_failed": (
        "The form could not be accepted.",
        "It was missing its security token or came from another site. Reload the page and retry.",
    ),
    "return_to_too_long": (
        "The page to come back to after login is too long.",
        "Start again from the Log in button.",
    ),
    "request_timeout": (
        "The form took too long to arrive.",
        "Check your connection, go back and send it again.",
    ),
    "request_too_large": (
        "The form was too large to accept.",
        "Go back, shorten what you entered and try again.",
    ),
    "other_user": (
        "The identity provider answered for another user.",
        "Log out, then log in again as the user you want to be.",
    ),
    "wrong_audience": (
        "The identity provider issued a token for another API.",
        "Check the API's identifier (AUTH0_AUDIENCE) and the application's access to it.",
    ),
    "not_found": ("This page does not exist.", "Check the address, or go back to the home page."),
    "unknown": ("Something went wrong.", "Go back to the home page and try again."),
}


# Codes about the login itself: the page names the tenant, and "Log in again" is the way on.
LOGIN_CODES = frozenset(
    {
        "access_denied",
        "state_mismatch",
        "login_failed",
        "invalid_id_token",
        "login_required",
        "consent_required",
        "interaction_required",
        "tenant_unavailable",
    }
)
THEME_KEY = "theme"  # session key: the user's `user_metadata.theme`, applied on every page


def error_text(code: str | None) -> tuple[str, str, str]:
    """(code, title, advice) for a code from the fixed set; unknown codes become 'unknown'."""
    known = code if code in ERROR_MESSAGES else "unknown"
    title, advice = ERROR_MESSAGES[known]
    return known, title, advice


def error_actions(code: str, logged_in: bool) -> list[tuple[str, str]]:
    """The error page's buttons, main one first: what fits this error for this visitor."""
    if code == "tenant_unavailable":
        return [("Try again", "/login"), ("Home", "/")]
    if code in LOGIN_CODES and not logged_in:
        return [("Log in again", "/login"), ("Home", "/")]
    return [("Home", "/")] if logged_in else [("Home", "/"), ("Log in", "/login")]


def render_error(
    request: Request,
    code: str | None,
    status_code: int = 200,
    tenant_error: tuple[str, str] | None = None,
) -> Response:
    """The error page.  `tenant_error` is the tenant's own (error, error_description): they
    name the cause and carry no secrets; the query around them (code, state) is never shown."""
    known, title, advice = error_text(code)
    context: dict[str, Any] = {
        "code": known,
        "title": title,
        "advice": advice,
        "actions": error_actions(known, current_user(request) is not None),
        "tenant_error": tenant_error,
        "issuer": app_settings(request).issuer if known in LOGIN_CODES else None,
    }
    return render(request, "error.html", context, status_code=status_code)


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> Response:
    user = current_user(request)
    base = {
        "user": user,
        # Forms appear only for users; anonymous visits must not create sessions.
        "csrf_token": csrf_token(request) if user else "",
        "path": request.url.path,
        "theme": request.session.get(THEME_KEY) if user else None,
    }
    return templates.TemplateResponse(
        request, name, {**base, **(context or {})}, status_code=status_code
    )
