"""Finding the access token in a request, per RFC 6750 §2 and express-oauth2-jwt-bearer.

A token may come in the Authorization header (`Bearer`, any case), the `access_token`
query parameter, or the `access_token` field of a urlencoded form body, but by exactly
one method.  Another scheme (`Basic ...`) means the client sent no bearer token (401
without an error code); a Bearer header that is not `Bearer <token>` is malformed (400).
"""

from __future__ import annotations

import re

from starlette.requests import Request

from api.errors import InvalidRequest, TokenMissing

TOKEN_FIELD = "access_token"  # noqa: S105 - a field name
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
MAX_FORM_BYTES = 64 * 1024  # a form body carrying a token is small; larger ones are not read
# RFC 6750 b64token: the only characters a bearer token may contain.
_CREDENTIALS = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


async def find_token(request: Request) -> str:
    """The one access token `request` carries; TokenMissing or InvalidRequest otherwise."""
    found = [
        token
        for token in (
            _from_header(request.headers.get("authorization")),
            _from_query(request),
            await _from_form(request),
        )
        if token is not None
    ]
    if not found:
        raise TokenMissing()
    if len(found) > 1:
        raise InvalidRequest("More than one method used for authentication")
    return found[0]


def _from_header(value: str | None) -> str | None:
    if value is None:
        return None
    scheme, _, credentials = value.partition(" ")
    if scheme.lower() != "bearer":
        return None  # another scheme: not a bearer token (RFC 6750 §3.1)
    if not _CREDENTIALS.fullmatch(credentials):
        raise InvalidRequest("The Authorization header is malformed; use 'Bearer <token>'")
    return credentials


def _from_query(request: Request) -> str | None:
    values = request.query_params.getlist(TOKEN_FIELD)
    if len(values) > 1:
        raise InvalidRequest("More than one method used for authentication")
    return values[0] if values else None


async def _from_form(request: Request) -> str | None:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM_CONTENT_TYPE:
        return None
    length = request.headers.get("content-length")
    if length is None or not length.isdigit() or int(length) > MAX_FORM_BYTES:
        raise InvalidRequest("The form body is too large or has no Content-Length")
    form = await request.form(max_fields=100)
    values = [value for value in form.getlist(TOKEN_FIELD) if isinstance(value, str)]
    if len(values) > 1:
        raise InvalidRequest("More than one method used for authentication")
    return values[0] if values else None
