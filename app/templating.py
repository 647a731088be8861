"""Jinja2 rendering with what every page's layout needs (user, CSRF token, nav state)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates
from starlette.requests import Request
from starlette.responses import Response

from app.csrf import csrf_token
from app.deps import current_user

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
        "Make sure it is running (for the dev tenant: uv run honcho start tenant), then retry.",
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
    "not_found": ("This page does not exist.", "Check the address, or go back to the home page."),
    "unknown": ("Something went wrong.", "Go back to the home page and try again."),
}


def error_text(code: str | None) -> tuple[str, str, str]:
    """(code, title, advice) for a code from the fixed set; unknown codes become 'unknown'."""
    known = code if code in ERROR_MESSAGES else "unknown"
    title, advice = ERROR_MESSAGES[known]
    return known, title, advice


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> Response:
    user = current_user(request)
    base = {
        "user": user,
        # Forms appear only for users; anonymous visits must not create sessions.
        "csrf_token": csrf_token(request) if user else "",
        "path": request.url.path,
    }
    return templates.TemplateResponse(
        request, name, {**base, **(context or {})}, status_code=status_code
    )
