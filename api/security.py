"""The FastAPI dependency that authorizes a request: `ClaimsDep` and `require_scopes()`.

`AccessToken` is an `HTTPBearer` so that `/docs` shows an Authorize button and the
routes document their security, but it finds the token with `api.bearer.find_token`,
which follows express-oauth2-jwt-bearer's rules rather than FastAPI's (which answers
403 for a missing token), and holds DPoP-bound tokens to their proofs (`api.dpop`).
It is one dependency, not a chain of them, and it takes
only the `Request`: the API's routes (`DirectRoute`, api/routing.py) call it directly,
without FastAPI's dependency resolution, a measurable part of every request.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Request, Security
from fastapi.security import HTTPBearer

from api.bearer import find_token
from api.dpop import DpopPolicy
from api.errors import InsufficientScope
from api.verify import TokenVerifier

Claims = dict[str, Any]


class AccessToken(HTTPBearer):
    """Resolves to the claims of the request's valid access token holding `scopes`."""

    def __init__(self, *scopes: str) -> None:
        super().__init__(
            auto_error=False,
            bearerFormat="JWT",
            scheme_name="HTTPBearer",
            description="An Auth0 access token for this API's audience (RS256).",
        )
        self.scopes = scopes

    async def __call__(self, request: Request) -> Claims:  # type: ignore[override]
        verifier: TokenVerifier = request.app.state.verifier
        dpop: DpopPolicy = request.app.state.dpop
        credentials = await find_token(request, dpop.mode)
        dpop.check_request(request, credentials)
        claims = await verifier.verify(credentials.token)
        dpop.check_binding(request, credentials, claims)
        if self.scopes:
            with_permissions: bool = request.app.state.settings.auth0_scopes_from_permissions
            if not set(self.scopes) <= token_scopes(claims, with_permissions):
                raise InsufficientScope(list(self.scopes))
        return claims


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


def require_scopes(*scopes: str) -> Any:
    """`Annotated[Claims, require_scopes("read:messages")]`: a token holding every scope."""
    return Security(AccessToken(*scopes))


ClaimsDep = Annotated[Claims, Security(AccessToken())]
