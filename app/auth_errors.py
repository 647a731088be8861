"""Errors of the login flow and of pages; `app/handlers.py` maps them to responses.

(They live here rather than in `app/errors.py`, which belongs to the session layer.)
"""

from __future__ import annotations


class LoginRequired(Exception):
    """Raised by a page that needs a logged-in user when the session has none.

    `return_to` is the same-origin path to come back to after login.
    """

    def __init__(self, return_to: str = "/") -> None:
        super().__init__("login required")
        self.return_to = return_to


class AuthFlowError(Exception):
    """Raised when login or logout cannot finish: the tenant returned an error, the state did
    not match, or the tenant could not be reached.  `code` is a key of `ERROR_MESSAGES`."""

    def __init__(self, code: str, status_code: int = 400) -> None:
        super().__init__(code)
        self.code = code
        self.status_code = status_code
