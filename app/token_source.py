"""The contract between the allow-list interceptor and whoever holds the user's tokens.

The interceptor (app/interceptor.py) asks a `TokenSource` for an access token for the
audience and scope an allow-list entry names; the session's token manager
(app/session_tokens.py) is the real one, which routes get as `TokenSourceDep` (app/deps.py).
The source travels with each outgoing httpx request in `request.extensions[TOKEN_SOURCE]`,
so the one shared `AsyncClient` serves every user.
"""

from __future__ import annotations

from typing import Protocol

TOKEN_SOURCE = "app.token_source"  # noqa: S105 - an extension key, not a secret

# The errors after which an `allow_anonymous` entry still sends the request, without a
# token (the same list as auth0-angular's interceptor).
ANONYMOUS_OK_ERRORS = frozenset(
    {
        "login_required",
        "consent_required",
        "missing_refresh_token",
        "interaction_required",
        "missing_token",
    }
)


class TokenSource(Protocol):
    async def get_access_token(self, audience: str | None = None, scope: str | None = None) -> str:
        """An access token for `audience`/`scope` (defaults: the app's); or TokenUnavailable."""
        ...


def token_extensions(source: TokenSource | None) -> dict[str, object]:
    """httpx request extensions carrying `source` to the interceptor."""
    return {} if source is None else {TOKEN_SOURCE: source}
