"""Every way a request can fail authorization, modelled once.

`api.main` maps `AuthError` to an RFC 6750 response in one exception handler: the
status, a `WWW-Authenticate` challenge and a JSON body `{"error", "error_description"}`.
Descriptions are short and fixed: they never carry token contents or library internals.
"""

from __future__ import annotations

REALM = "api"


class AuthError(Exception):
    """Base class: a request that cannot be authorized; subclasses set the response."""

    status_code = 401
    error: str | None = None
    description = "Authentication is required"

    def __init__(self, description: str | None = None) -> None:
        super().__init__(description or self.description)
        self.description = description or self.description

    def challenge(self) -> str | None:
        """The WWW-Authenticate value, or None when the response carries none."""
        parts = [f'Bearer realm="{REALM}"']
        if self.error:
            parts.append(f'error="{self.error}"')
            parts.append(f'error_description="{self.description}"')
        return ", ".join(parts)


class TokenMissing(AuthError):
    """Raised when a request carries no access token at all (RFC 6750 §3.1: no error code)."""

    error = None


class InvalidRequest(AuthError):
    """Raised for a malformed Authorization header or a token sent by more than one method."""

    status_code = 400
    error = "invalid_request"
    description = "The request is malformed"


class InvalidToken(AuthError):
    """Raised when the token is malformed, forged, expired or not meant for this API."""

    error = "invalid_token"
    description = "The access token is invalid"


class InsufficientScope(AuthError):
    """Raised when a valid token lacks a scope the route requires."""

    status_code = 403
    error = "insufficient_scope"
    description = "Insufficient scope"

    def __init__(self, required: list[str]) -> None:
        super().__init__()
        self.required = required

    def challenge(self) -> str | None:
        return f'{super().challenge()}, scope="{" ".join(self.required)}"'


class IssuerUnavailable(AuthError):
    """Raised when discovery or the JWKS cannot be fetched, so no token can be checked.

    A deliberate improvement over express-oauth2-jwt-bearer, which answers 401: the
    client did nothing wrong and should retry, so this is 503 with Retry-After.
    """

    status_code = 503
    error = "temporarily_unavailable"
    description = "The token issuer cannot be reached; retry later"

    def challenge(self) -> str | None:
        return None
