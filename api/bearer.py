"""Finding the access token in a request, per RFC 6750 §2 and express-oauth2-jwt-bearer.

A token may come in the Authorization header (`Bearer`, any case), the `access_token`
query parameter, or the `access_token` field of a urlencoded form body, but by exactly
one method.  An Authorization header that is not exactly `Bearer <token>` (another
scheme such as `Basic`, no token, extra words) is a malformed request: 400, as
express-oauth2-jwt-bearer answers, plus the `invalid_request` code RFC 6750 §3.1 gives
it (Express sends none).  What the token itself contains is for the JWT parser to judge.
"""

from __future__ import annotations

import re

from starlette.requests import Request

from api.errors import InvalidRequest, TokenMissing

TOKEN_FIELD = "access_token"  # noqa: S105 - a field name
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
MAX_FORM_BYTES = 64 * 1024  # a form body carrying a token is small; larger ones are not read
_WHITESPACE = re.compile(r"\s")


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
    if not value:
        return None
    scheme, _, credentials = value.partition(" ")
    if scheme.lower() != "bearer" or not credentials or _WHITESPACE.search(credentials):
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
