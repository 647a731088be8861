"""The sample API's routes, with the JSON bodies of Auth0's Express sample."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Response

from api.security import Claims, ClaimsDep, require_scopes

READ_MESSAGES = "read:messages"
JSON = "application/json"
Message = dict[str, str]

router = APIRouter(prefix="/api")
F = TypeVar("F", bound=Callable[..., Any])

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Malformed Authorization header, or a token sent more than one way"},
    401: {"description": "Missing, malformed, forged, expired or mis-addressed access token"},
    503: {"description": "The token issuer cannot be reached; retry after Retry-After seconds"},
}
_SCOPE_ERRORS = {**_ERRORS, 403: {"description": f"The token lacks the {READ_MESSAGES} scope"}}


def _get_and_post(path: str, responses: dict[int | str, dict[str, Any]]) -> Callable[[F], F]:
    """Register a protected route for GET and for POST, so that the `access_token` form
    field (RFC 6750 §2.2) can be used; each method gets its own OpenAPI operation id."""

    def register(endpoint: F) -> F:
        name = endpoint.__name__
        get, post = router.get, router.post
        get(path, responses=responses, response_model=Message, operation_id=f"{name}_get")(endpoint)
        post(path, responses=responses, response_model=Message, operation_id=f"{name}_post")(
            endpoint
        )
        return endpoint

    return register


def _json(body: dict[str, str]) -> bytes:
    """Encoded once at import: the answers never change, so no per-request serialization."""
    return json.dumps(body, separators=(",", ":")).encode()


PUBLIC = _json(
    {"message": "Hello from a public endpoint! You don't need to be authenticated to see this."}
)
PRIVATE = _json(
    {"message": "Hello from a private endpoint! You need to be authenticated to see this."}
)
PRIVATE_SCOPED = _json(
    {
        "message": "Hello from a private endpoint! You need to be authenticated and have a "
        f"scope of {READ_MESSAGES} to see this."
    }
)
EXTERNAL = _json({"msg": "Your access token was successfully validated!"})


def _answer(body: bytes) -> Response:
    return Response(body, media_type=JSON)


# response_model documents the body in OpenAPI; a Response returned as is skips validation.
@router.get("/public", response_model=Message)
async def public() -> Response:
    return _answer(PUBLIC)


@_get_and_post("/private", _ERRORS)
async def private(_: ClaimsDep) -> Response:
    return _answer(PRIVATE)


@_get_and_post("/private-scoped", _SCOPE_ERRORS)
async def private_scoped(
    _: Annotated[Claims, require_scopes(READ_MESSAGES)],
) -> Response:
    return _answer(PRIVATE_SCOPED)


@_get_and_post("/external", _ERRORS)
async def external(_: ClaimsDep) -> Response:
    return _answer(EXTERNAL)
