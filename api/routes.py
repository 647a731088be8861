"""The sample API's routes, with the JSON bodies of Auth0's Express sample."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from api.security import Claims, ClaimsDep, require_scopes

READ_MESSAGES = "read:messages"

router = APIRouter(prefix="/api")

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Malformed Authorization header, or a token sent more than one way"},
    401: {"description": "Missing, malformed, forged, expired or mis-addressed access token"},
    503: {"description": "The token issuer cannot be reached; retry after Retry-After seconds"},
}
_SCOPE_ERRORS = {**_ERRORS, 403: {"description": f"The token lacks the {READ_MESSAGES} scope"}}
# Protected routes also take POST so the access_token form field (RFC 6750 §2.2) works.
_METHODS = ["GET", "POST"]


@router.get("/public")
async def public() -> dict[str, str]:
    return {
        "message": "Hello from a public endpoint! You don't need to be authenticated to see this."
    }


@router.api_route("/private", methods=_METHODS, responses=_ERRORS)
async def private(_: ClaimsDep) -> dict[str, str]:
    return {"message": "Hello from a private endpoint! You need to be authenticated to see this."}


@router.api_route("/private-scoped", methods=_METHODS, responses=_SCOPE_ERRORS)
async def private_scoped(
    _: Annotated[Claims, Depends(require_scopes(READ_MESSAGES))],
) -> dict[str, str]:
    return {
        "message": "Hello from a private endpoint! You need to be authenticated and have a "
        f"scope of {READ_MESSAGES} to see this."
    }


@router.api_route("/external", methods=_METHODS, responses=_ERRORS)
async def external(_: ClaimsDep) -> dict[str, str]:
    return {"msg": "Your access token was successfully validated!"}
