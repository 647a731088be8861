"""Every way a request can fail authorization, modelled once.

`api.main` maps `AuthError` to an RFC 6750 response in one exception handler: the
status, a `WWW-Authenticate` challenge and a JSON body `{"error", "error_description"}`.
Descriptions are short and fixed: they never carry token contents or library internals.

With DPoP enabled the answer carries two challenges, as express-oauth2-jwt-bearer sends
them (RFC 9449 §7.1): `Bearer realm="api"` and `DPoP algs="..."`, the error parameters on
the scheme the client used (on Bearer when it used neither); with DPoP required, only the
DPoP challenge.
"""

from __future__ import annotations

from api.config import DPOP_ALGORITHMS, DpopMode

REALM = "api"
_DPOP_ALGS = f'algs="{" ".join(DPOP_ALGORITHMS)}"'


class AuthError(Exception):
    """Base class: a request that cannot be authorized; subclasses set the response."""

    status_code = 401
    error: str | None = None
    description = "Authentication is required"

    def __init__(self, description: str | None = None) -> None:
        super().__init__(description or self.description)
        self.description = description or self.description

    def challenge(self, dpop: DpopMode = "disabled", scheme: str | None = None) -> str | None:
        """The WWW-Authenticate value, or None when the response carries none.

        `dpop` is the API's DPoP mode, `scheme` the one the request used (lowercase), if any.
        """
        on_dpop = dpop == "required" or (dpop == "allowed" and scheme == "dpop")
        bearer = ", ".join([f'Bearer realm="{REALM}"', *([] if on_dpop else self.params())])
        proof = "DPoP " + ", ".join([*(self.params() if on_dpop else []), _DPOP_ALGS])
        if dpop == "disabled":
            return bearer
        return proof if dpop == "required" else f"{bearer}, {proof}"

    def params(self) -> list[str]:
        """The challenge's error parameters (none for a request without credentials)."""
        if not self.error:
            return []
        return [f'error="{self.error}"', f'error_description="{self.description}"']


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


class InvalidDpopProof(AuthError):
    """Raised when the DPoP proof is missing a part, forged, stale, replayed or for
    another request (RFC 9449 §7.1: 400 `invalid_dpop_proof`)."""

    status_code = 400
    error = "invalid_dpop_proof"
    description = "The DPoP proof is invalid"


class InsufficientScope(AuthError):
    """Raised when a valid token lacks a scope the route requires."""

    status_code = 403
    error = "insufficient_scope"
    description = "Insufficient scope"

    def __init__(self, required: list[str]) -> None:
        super().__init__()
        self.required = required

    def params(self) -> list[str]:
        return [*super().params(), f'scope="{" ".join(self.required)}"']

    def challenge(self, dpop: DpopMode = "disabled", scheme: str | None = None) -> str | None:
        """One challenge, in the scheme the client used: its credentials were valid."""
        if scheme == "dpop":
            return "DPoP " + ", ".join([*self.params(), _DPOP_ALGS])
        return ", ".join([f'Bearer realm="{REALM}"', *self.params()])


class IssuerUnavailable(AuthError):
    """Raised when discovery or the JWKS cannot be fetched, so no token can be checked.

    A deliberate improvement over express-oauth2-jwt-bearer, which answers 401: the
    client did nothing wrong and should retry, so this is 503 with Retry-After.
    """

    status_code = 503
    error = "temporarily_unavailable"
    description = "The token issuer cannot be reached; retry later"

    def challenge(self, dpop: DpopMode = "disabled", scheme: str | None = None) -> str | None:
        return None
