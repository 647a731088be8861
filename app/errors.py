"""The frontend's errors: tiny classes, mapped to responses in one place by the app."""

from __future__ import annotations


class SessionStoreUnavailable(Exception):
    """Raised when the session store (Redis) cannot be reached or answers with an error.

    The message never names a session id or a store URL with credentials; the app answers
    503 with `Retry-After`, and sessions come back once the store does.
    """


class CsrfError(Exception):
    """Raised when a state-changing request lacks the session's CSRF token or comes from
    another site; the app answers 403."""
