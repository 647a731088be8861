"""The Management API subset a logged-in user may call on themselves, and one admin call.

`GET/PATCH /api/v2/users/{id}` with a token for `{issuer}api/v2/`: `read:current_user`
and `update:current_user_metadata` reach only the token's own user, like Auth0.
`DELETE /api/v2/users/{id}/sessions` ends every tenant session of a user (with
back-channel logout); it needs a machine-to-machine token with `delete:sessions`.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from devtenant import backchannel
from devtenant.bearer import bearer_token, verify
from devtenant.config import DELETE_SESSIONS_SCOPE, User
from devtenant.errors import InvalidToken, ManagementError, MetadataRejected
from devtenant.minting import CLIENT_CREDENTIALS_GTY
from devtenant.params import MAX_BODY_BYTES, scopes_of
from devtenant.tenant import Tenant, TenantDep

READ_SCOPE = "read:current_user"
UPDATE_SCOPE = "update:current_user_metadata"
UPDATABLE = frozenset({"user_metadata"})  # all that update:current_user_metadata may change

router = APIRouter()


def unauthorized(message: str) -> ManagementError:
    return ManagementError(401, "Unauthorized", message, "invalid_token")


def forbidden(scope: str) -> ManagementError:
    message = f"Insufficient scope, expected any of: {scope}"
    return ManagementError(403, "Forbidden", message, "insufficient_scope")


def bad_request(message: str) -> ManagementError:
    return ManagementError(400, "Bad Request", message, "invalid_body")


def management_claims(request: Request, tenant: Tenant) -> dict[str, Any]:
    """The claims of a valid Management API bearer token."""
    settings = tenant.settings
    try:
        token = bearer_token(request)
        return verify(
            tenant.keys, token, issuer=settings.issuer, audience=settings.management_audience
        )
    except InvalidToken as exc:
        raise unauthorized(exc.description) from exc


def existing_user(tenant: Tenant, user_id: str) -> User:
    user = tenant.registry.user(user_id)
    if user is None:
        raise ManagementError(404, "Not Found", "The user does not exist.", "inexistent_user")
    return user


def authorized_user(request: Request, tenant: Tenant, user_id: str, scope: str) -> User:
    """The user `user_id`, if the bearer token is theirs and carries `scope`."""
    claims = management_claims(request, tenant)
    if scope not in scopes_of(claims.get("scope")) or claims["sub"] != user_id:
        raise forbidden(scope)
    return existing_user(tenant, user_id)


async def json_object(request: Request) -> dict[str, Any]:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise bad_request("The body must be application/json.")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_BODY_BYTES:
            raise ManagementError(413, "Payload Too Large", "The body is too large.", "too_large")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        # RecursionError: a body of a few kB can nest deeper than Python's parser goes.
        raise bad_request("Payload validation error: invalid JSON.") from exc
    if not isinstance(data, dict):
        raise bad_request("Payload validation error: expected an object.")
    return data


@router.get("/api/v2/users/{user_id}")
async def get_user(user_id: str, request: Request, tenant: TenantDep) -> JSONResponse:
    user = authorized_user(request, tenant, user_id, READ_SCOPE)
    return JSONResponse(tenant.users.profile(user))


@router.patch("/api/v2/users/{user_id}")
async def patch_user(user_id: str, request: Request, tenant: TenantDep) -> JSONResponse:
    user = authorized_user(request, tenant, user_id, UPDATE_SCOPE)
    body = await json_object(request)
    if not body.keys() <= UPDATABLE:
        raise forbidden("update:users")
    metadata = body.get("user_metadata", {})
    if not isinstance(metadata, dict):
        raise bad_request("Payload validation error: user_metadata must be an object.")
    try:
        return JSONResponse(await tenant.users.update_metadata(user, metadata))
    except MetadataRejected as exc:
        raise bad_request(f"Payload validation error: {exc}") from exc


@router.delete("/api/v2/users/{user_id}/sessions")
async def delete_user_sessions(user_id: str, request: Request, tenant: TenantDep) -> Response:
    claims = management_claims(request, tenant)
    # A machine-to-machine token: a user's own token never ends other people's sessions.
    if claims.get("gty") != CLIENT_CREDENTIALS_GTY or DELETE_SESSIONS_SCOPE not in scopes_of(
        claims.get("scope")
    ):
        raise forbidden(DELETE_SESSIONS_SCOPE)
    user = existing_user(tenant, user_id)
    await backchannel.notify(tenant, tenant.grants.end_user_sessions(user.user_id))
    return Response(status_code=204)
