"""Every error the tenant answers with, and the one place they become responses.

OAuth endpoints answer RFC 6749 error JSON, the Management API answers Auth0's
`{"statusCode", "error", "message", "errorCode"}`, and the browser-facing endpoints answer
an HTML error page whenever redirecting back would be unsafe (unknown client or URL).
Messages never contain tokens, secrets or session ids.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

if TYPE_CHECKING:
    from fastapi.templating import Jinja2Templates

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class BadParameters(ValueError):
    """Raised when a query string or form is malformed, repeats a parameter or is too large."""


class MetadataRejected(ValueError):
    """Raised when a user_metadata edit would exceed the size or nesting the tenant keeps."""


class OAuthError(Exception):
    """Base of the RFC 6749 errors answered as JSON by the token and userinfo endpoints."""

    error = "invalid_request"
    status_code = 400

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class InvalidRequest(OAuthError):
    """Raised when a required parameter is missing, repeated, malformed or too large."""


class InvalidClient(OAuthError):
    """Raised when client authentication fails (unknown client, wrong or missing secret)."""

    error = "invalid_client"
    status_code = 401


class InvalidGrant(OAuthError):
    """Raised when a code or refresh token is unknown, expired, reused or revoked, or PKCE fails."""

    error = "invalid_grant"


class UnauthorizedClient(OAuthError):
    """Raised when the client may not use the grant it asked for."""

    error = "unauthorized_client"


class UnsupportedGrantType(OAuthError):
    """Raised when grant_type is not one the tenant implements."""

    error = "unsupported_grant_type"


class InvalidScope(OAuthError):
    """Raised when the requested scope exceeds what was consented or what the API defines."""

    error = "invalid_scope"


class AccessDenied(OAuthError):
    """Raised when the request names an API the tenant does not know (Auth0: access_denied)."""

    error = "access_denied"
    status_code = 403


class InvalidDpopProof(OAuthError):
    """Raised when a token request's DPoP proof is malformed, forged, stale, replayed or
    for another request (RFC 9449 §5)."""

    error = "invalid_dpop_proof"


class InvalidToken(OAuthError):
    """Raised when a bearer token is missing, malformed, expired or for another audience."""

    error = "invalid_token"
    status_code = 401


class ErrorPage(Exception):
    """Raised when a browser request must end on the tenant's own error page, not a redirect.

    `back` is (label, url) of a registered URL of the application to return to, when known.
    """

    def __init__(
        self, message: str, status_code: int = 400, back: tuple[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.back = back


class RedirectError(Exception):
    """Raised when /authorize must send an OAuth error back to a validated redirect_uri."""

    def __init__(self, redirect_uri: str, error: str, description: str, state: str | None) -> None:
        super().__init__(description)
        self.redirect_uri, self.error, self.description, self.state = (
            redirect_uri,
            error,
            description,
            state,
        )


class ManagementError(Exception):
    """Raised by the Management API; answered in Auth0's Management API error shape."""

    def __init__(self, status_code: int, error: str, message: str, error_code: str) -> None:
        super().__init__(message)
        self.status_code, self.error, self.message, self.error_code = (
            status_code,
            error,
            message,
            error_code,
        )


def redirect_with(redirect_uri: str, params: dict[str, str]) -> RedirectResponse:
    """A 302 to `redirect_uri` with `params` added to its query string."""
    if not params:
        return RedirectResponse(redirect_uri, status_code=302)
    separator = "&" if "?" in redirect_uri else "?"
    return RedirectResponse(f"{redirect_uri}{separator}{urlencode(params)}", status_code=302)


def oauth_response(exc: OAuthError) -> JSONResponse:
    headers = dict(NO_STORE)
    if isinstance(exc, InvalidToken):
        headers["WWW-Authenticate"] = f'Bearer error="{exc.error}"'
    elif isinstance(exc, InvalidClient):
        headers["WWW-Authenticate"] = 'Basic realm="devtenant"'
    body = {"error": exc.error, "error_description": exc.description}
    return JSONResponse(body, status_code=exc.status_code, headers=headers)


def install(app: FastAPI, templates: Jinja2Templates) -> None:
    """Map every error above (and FastAPI's own) to its response."""

    async def on_oauth(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, OAuthError)
        return oauth_response(exc)

    async def on_page(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ErrorPage)
        return templates.TemplateResponse(
            request,
            "error.html",
            {"message": exc.message, "back": exc.back},
            status_code=exc.status_code,
        )

    async def on_redirect(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RedirectError)
        params = {"error": exc.error, "error_description": exc.description}
        if exc.state is not None:
            params["state"] = exc.state
        return redirect_with(exc.redirect_uri, params)

    async def on_management(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, ManagementError)
        body = {
            "statusCode": exc.status_code,
            "error": exc.error,
            "message": exc.message,
            "errorCode": exc.error_code,
        }
        return JSONResponse(body, status_code=exc.status_code)

    async def on_validation(_: Request, exc: Exception) -> Response:
        return oauth_response(InvalidRequest("The request is malformed."))

    async def on_http(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        body = {"error": "not_found" if exc.status_code == 404 else "invalid_request"}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    app.add_exception_handler(OAuthError, on_oauth)
    app.add_exception_handler(ErrorPage, on_page)
    app.add_exception_handler(RedirectError, on_redirect)
    app.add_exception_handler(ManagementError, on_management)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
