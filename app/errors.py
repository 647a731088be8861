"""Every error the web app raises, modelled once; `app/exception_handlers.py` maps them.

The hierarchy::

    Exception
    ├── SettingsError ............... start-up stops with the message, one sentence
    │   ├── InvalidAllowList
    │   └── InvalidDpopKey
    ├── SessionStoreUnavailable ..... 503 + Retry-After, HTML or JSON
    ├── CsrfError ................... 403, HTML or JSON
    ├── RequestTooLarge ............. 413, HTML or JSON
    ├── RequestTimeout .............. 408, HTML or JSON
    ├── LoginRequired ............... pages: 303 to /login; under /api/: 401 JSON
    ├── AuthFlowError ............... the error page for its code
    ├── TokenUnavailable ............ caught where a token is needed (pages, proxy)
    │   ├── WrongAudience
    │   └── RefreshRejected
    ├── InvalidLogoutToken .......... back-channel logout: 400 (413) JSON, nothing deleted
    ├── IssuerUnavailable ........... back-channel logout: 503 JSON, the tenant may retry
    ├── LockTimeout ................. caught by the token manager: TokenUnavailable
    └── ProxyError .................. JSON `{error, error_description}` with its status
        ├── InvalidProxyPath ........ 400
        ├── SlowUpload .............. 408
        ├── UpstreamUnavailable ..... 502
        ├── ProxyBusy ............... 503 + Retry-After
        └── UpstreamTimeout ......... 504

Anything else is a bug: a 500 error page that still carries the security headers.
Messages never hold a token, a session id, or a URL with credentials.
"""

from __future__ import annotations


class SettingsError(ValueError):
    """Raised when a setting cannot run the app; the message is one sentence for people."""


class InvalidAllowList(SettingsError):
    """Raised at start-up when an allow-list entry is malformed or could leak a token."""


class InvalidDpopKey(SettingsError):
    """Raised at start-up when AUTH0_DPOP_KEY is not a private EC P-256 JWK."""


class SessionStoreUnavailable(Exception):
    """Raised when the session store (Redis) cannot be reached or answers with an error.

    The app answers 503 with `Retry-After`, and sessions come back once the store does.
    """


class CsrfError(Exception):
    """Raised when a state-changing request lacks the session's CSRF token or comes from
    another site."""


class RequestTooLarge(Exception):
    """Raised when a form body is larger than the app reads (app/request_guard.py)."""


class RequestTimeout(Exception):
    """Raised when a form body takes longer to arrive than the app waits for it."""


class LoginRequired(Exception):
    """Raised when a page or an API call needs a logged-in user and the session cannot
    provide one (no user, or no token to be had without logging in again).

    `return_to` is the same-origin path to come back to after login.
    """

    def __init__(self, return_to: str = "/") -> None:
        super().__init__("login required")
        self.return_to = return_to


class AuthFlowError(Exception):
    """Raised when login or logout cannot finish: the tenant returned an error, the state did
    not match, or the tenant could not be reached.  `code` is a key of `ERROR_MESSAGES`;
    `tenant_error` is the tenant's own (error, error_description), when it gave them."""

    def __init__(
        self, code: str, status_code: int = 400, tenant_error: tuple[str, str] | None = None
    ) -> None:
        super().__init__(code)
        self.code = code
        self.status_code = status_code
        self.tenant_error = tenant_error


class TokenUnavailable(Exception):
    """Raised by a TokenSource when no access token can be had without the user.

    `error` is one of auth0-spa-js's codes (`login_required`, `missing_refresh_token`,
    `consent_required`, ...) or `token_endpoint_unavailable` when the tenant is down.
    """

    def __init__(self, error: str, description: str = "") -> None:
        super().__init__(description or error)
        self.error = error
        self.description = description


class WrongAudience(TokenUnavailable):
    """Raised when the tenant answers a request for one audience with a token for another.

    Auth0 does this silently for an audience outside the application's refresh-token
    policies (Multi-Resource Refresh Token), which can never include its Management API.
    """

    def __init__(self, wanted: str, got: list[str]) -> None:
        issued = ", ".join(got) or "no audience"
        super().__init__(
            "wrong_audience", f"The tenant issued a token for {issued}, not for {wanted}."
        )
        self.wanted = wanted
        self.got = got


class RefreshRejected(TokenUnavailable):
    """Raised when the tenant answers `invalid_grant`: the refresh token is dead (revoked,
    expired or reused), so the session's tokens are cleared and the user must log in."""

    def __init__(self) -> None:
        super().__init__("login_required", "The session has expired; please log in again.")


class ProxyError(Exception):
    """Base of the `/api/*` proxy's errors; each becomes a JSON reply with its status."""


class InvalidProxyPath(ProxyError):
    """Raised when a path under /api/ could escape it (`..`, `//`, backslashes, controls)."""


class UpstreamUnavailable(ProxyError):
    """Raised when the API (or the tenant's token endpoint) cannot be reached or hangs up."""


class UpstreamTimeout(ProxyError):
    """Raised when the API does not answer within the shared client's timeouts."""


class IssuerMismatch(ValueError):
    """Raised when the provider's discovery document names an issuer other than the
    configured one (a trailing slash aside): its ID tokens could not be trusted."""


class SlowUpload(ProxyError):
    """Raised when a body sent through the proxy stalls or takes too long to arrive in all."""


class ProxyBusy(ProxyError):
    """Raised when the proxy already relays as many calls as allowed, for this user or all."""


class InvalidLogoutToken(Exception):
    """Raised when a back-channel logout request or its `logout_token` fails a check of
    OIDC Back-Channel Logout 1.0 section 2.6 (signature, iss, aud, iat, exp, jti replay,
    events, sid/sub, nonce); answered 400 (413 for an oversized body), and nothing is
    deleted.  The message names the failed check, never the token."""

    def __init__(self, description: str, status_code: int = 400) -> None:
        super().__init__(description)
        self.description = description
        self.status_code = status_code


class IssuerUnavailable(Exception):
    """Raised when the issuer's discovery document or JWKS cannot be fetched to check a
    logout token; answered 503 so the tenant may try again."""


class LockTimeout(Exception):
    """Raised when a lock shared through the session store stays held by another request
    (or a process that died holding it) for longer than the caller may wait; the token
    manager turns it into TokenUnavailable (token_endpoint_unavailable)."""
