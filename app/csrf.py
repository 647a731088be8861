"""CSRF protection with a synchronizer token kept in the server-side session.

Pages put `csrf_token(request)` in a hidden `csrf_token` field (or scripts send it in the
`X-CSRF-Token` header); routes that change state take a `CsrfProtected` parameter.  The
browser's `Sec-Fetch-Site` and `Origin` headers, when sent, must also say the request came
from this site: a second, independent line of defence next to SameSite=Lax cookies.

Before any body is read, app/request_guard.py refuses what can be refused on headers
alone (`check_same_origin`, a session without a token); the `/api/*` proxy's unsafe calls
are checked there entirely (`check_proxy_call`): a browser header saying same-origin is
required, not just allowed, and the token comes only in `X-CSRF-Token`.
"""

from __future__ import annotations

import secrets
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends
from starlette.requests import HTTPConnection, Request

from app.errors import CsrfError

CSRF_SESSION_KEY = "_csrf_token"
CSRF_FORM_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
CSRF_TOKEN_BYTES = 32
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# Fetch Metadata values that mean "another site (or another origin of this site) sent this".
FOREIGN_FETCH_SITES = frozenset({"cross-site", "same-site"})
SAME_ORIGIN = "same-origin"


def csrf_token(request: HTTPConnection) -> str:
    """The session's CSRF token, created (and so saved with the session) on first use."""
    token = request.session.get(CSRF_SESSION_KEY)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(CSRF_TOKEN_BYTES)
        request.session[CSRF_SESSION_KEY] = token
    return token


def check_same_origin(request: HTTPConnection) -> None:
    """Refuse a request whose browser says it came from another site or origin."""
    if request.headers.get("sec-fetch-site", "").lower() in FOREIGN_FETCH_SITES:
        raise CsrfError("cross-site request")
    origin = request.headers.get("origin")
    if origin is None:
        return  # older browsers and non-browser clients: the token alone decides
    # Host, not the full URL: behind a TLS-terminating proxy the app may see http while the
    # browser's Origin says https; the host is what an attacker's page cannot claim.
    host = request.headers.get("host", "").lower()
    if origin == "null" or urlsplit(origin).netloc.lower() != host:
        raise CsrfError("cross-origin request")


def session_token(request: HTTPConnection) -> str:
    """The token the session holds; CsrfError when it has none (nothing could match)."""
    expected = request.session.get(CSRF_SESSION_KEY)
    if not isinstance(expected, str) or not expected:
        raise CsrfError("missing CSRF token")
    return expected


def check_token(expected: str, sent: str | None) -> None:
    """CsrfError unless `sent` is the session's token."""
    if not sent:
        raise CsrfError("missing CSRF token")
    # Bytes: compare_digest refuses non-ASCII str, and the sent value is attacker-chosen.
    if not secrets.compare_digest(sent.encode(), expected.encode()):
        raise CsrfError("wrong CSRF token")


def check_proxy_call(request: HTTPConnection) -> None:
    """An unsafe call through `/api/*`: a browser saying same-origin, and the header token.

    Stricter than forms: the page's own script makes these calls, so a browser always
    sends `Sec-Fetch-Site` or `Origin`; a request with neither is not from our page.
    """
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site.lower() != SAME_ORIGIN:
        raise CsrfError("cross-site request")
    if fetch_site is None and request.headers.get("origin") is None:
        raise CsrfError("no Origin or Sec-Fetch-Site")
    check_same_origin(request)
    check_token(session_token(request), request.headers.get(CSRF_HEADER))


async def _sent_token(request: Request) -> str | None:
    header = request.headers.get(CSRF_HEADER)
    if header is not None:
        return header
    # Starlette caches the parsed form on the request, so routes still read their fields.
    value = (await request.form()).get(CSRF_FORM_FIELD)
    return value if isinstance(value, str) else None


async def verify_csrf(request: Request) -> None:
    """Dependency: raise CsrfError unless an unsafe request carries the session's token."""
    if request.method in SAFE_METHODS:
        return
    check_same_origin(request)
    expected = session_token(request)  # before the form is parsed: no token, no parsing
    check_token(expected, await _sent_token(request))


CsrfProtected = Annotated[None, Depends(verify_csrf)]
