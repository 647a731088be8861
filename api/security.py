"""FastAPI dependencies that authorize a request: `ClaimsDep` and `require_scopes()`.

The `HTTPBearer` scheme is declared (with auto_error off) only so that `/docs` shows an
Authorize button; the token itself is found by `api.bearer.find_token`, which follows
express-oauth2-jwt-bearer's rules rather than FastAPI's (which answers 403 for a
missing token).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.bearer import find_token
from api.errors import InsufficientScope
from api.verify import TokenVerifier

bearer_scheme = HTTPBearer(
    auto_error=False,
    bearerFormat="JWT",
    description="An Auth0 access token for this API's audience (RS256).",
)

Claims = dict[str, Any]


def get_verifier(request: Request) -> TokenVerifier:
    verifier: TokenVerifier = request.app.state.verifier
    return verifier


async def validated_claims(
    request: Request,
    verifier: Annotated[TokenVerifier, Depends(get_verifier)],
    _: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
) -> Claims:
    """The claims of the request's valid access token; raises an AuthError otherwise."""
    return await verifier.verify(await find_token(request))


ClaimsDep = Annotated[Claims, Depends(validated_claims)]


def token_scopes(claims: Claims, include_permissions: bool) -> set[str]:
    """Scopes from `scope` (a space-separated string or an array), and RBAC `permissions`."""
    scopes: set[str] = set()
    sources = [claims.get("scope")]
    if include_permissions:
        sources.append(claims.get("permissions"))
    for source in sources:
        if isinstance(source, str):
            scopes.update(source.split())
        elif isinstance(source, list):
            scopes.update(item for item in source if isinstance(item, str))
    return scopes


def require_scopes(*required: str) -> Callable[..., Awaitable[Claims]]:
    """A dependency that passes only tokens holding every scope in `required`."""

    async def check(request: Request, claims: ClaimsDep) -> Claims:
        include_permissions: bool = request.app.state.settings.auth0_scopes_from_permissions
        if not set(required) <= token_scopes(claims, include_permissions):
            raise InsufficientScope(list(required))
        return claims

    return check
