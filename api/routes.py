"""The sample API's routes, with the JSON bodies of Auth0's Express sample."""

from __future__ import annotations

import json
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Response

from api.routing import DirectRoute
from api.security import Claims, ClaimsDep, require_scopes

READ_MESSAGES = "read:messages"
JSON = "application/json"
Message = dict[str, str]


_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Malformed Authorization header, or a token sent more than one way"},
    401: {"description": "Missing, malformed, forged, expired or mis-addressed access token"},
    503: {"description": "The token issuer cannot be reached; retry after Retry-After seconds"},
}
_SCOPE_ERRORS = {**_ERRORS, 403: {"description": f"The token lacks the {READ_MESSAGES} scope"}}


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


async def public() -> Response:
    return _answer(PUBLIC)


async def private(_: ClaimsDep) -> Response:
    return _answer(PRIVATE)


async def private_scoped(
    _: Annotated[Claims, require_scopes(READ_MESSAGES)],
) -> Response:
    return _answer(PRIVATE_SCOPED)


async def external(_: ClaimsDep) -> Response:
    return _answer(EXTERNAL)


def add_routes(router: APIRouter) -> None:
    """Register the routes on the app's own router, as `DirectRoute`s.

    Not `include_router`: FastAPI serves an included router's routes through a
    per-request inclusion context, with its own handler, which `DirectRoute` cannot
    replace.  `response_model` documents the body in OpenAPI; a `Response` returned as
    is skips validation.  Protected routes take GET and POST, so that the `access_token`
    form field (RFC 6750 §2.2) can be used; each method gets its own operation id.
    """
    add = partial(router.add_api_route, response_model=Message, route_class_override=DirectRoute)
    add("/api/public", public, methods=["GET"])
    protected = [
        ("/api/private", private, _ERRORS),
        ("/api/private-scoped", private_scoped, _SCOPE_ERRORS),
        ("/api/external", external, _ERRORS),
    ]
    for path, endpoint, responses in protected:
        for method in ("GET", "POST"):
            operation_id = f"{endpoint.__name__}_{method.lower()}"
            add(path, endpoint, methods=[method], responses=responses, operation_id=operation_id)
    # Matched first: every request but a docs page's is for one of them (a stable sort
    # keeps their order, and the docs routes', among themselves).
    router.routes.sort(key=lambda route: not isinstance(route, DirectRoute))
