"""Strict parsing of query strings and urlencoded forms.

OAuth forbids repeating a parameter (RFC 6749 section 3.1), and a tenant that accepted
unbounded input would be easy to knock over, so every request parameter is checked here
once: a bounded body, valid UTF-8, no repeats, no value longer than MAX_PARAM_LENGTH.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import Request

from devtenant.errors import BadParameters, InvalidRequest

MAX_PARAM_LENGTH = 4096  # characters: room for an id_token_hint, not for a 10 kB state
MAX_PARAMS = 40
MAX_BODY_BYTES = 64 * 1024
FORM_TYPE = "application/x-www-form-urlencoded"


def parse_pairs(raw: str) -> dict[str, str]:
    """Parameters of an urlencoded string; BadParameters when they break the rules above."""
    try:
        pairs = parse_qsl(raw, keep_blank_values=True, max_num_fields=MAX_PARAMS, errors="strict")
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadParameters("The parameters are malformed or too many.") from exc
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params:
            raise BadParameters(f"Parameter '{name[:40]}' must not be repeated.")
        if len(value) > MAX_PARAM_LENGTH or len(name) > MAX_PARAM_LENGTH:
            raise BadParameters(f"Parameter '{name[:40]}' is too long.")
        params[name] = value
    return params


def query_params(request: Request) -> dict[str, str]:
    return parse_pairs(request.url.query)


async def form_params(request: Request) -> dict[str, str]:
    """The urlencoded body of a POST, read up to MAX_BODY_BYTES."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM_TYPE:
        raise BadParameters(f"The body must be {FORM_TYPE}.")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_BODY_BYTES:
            raise BadParameters("The body is too large.")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadParameters("The body is not UTF-8.") from exc
    return parse_pairs(text)


async def oauth_form(request: Request) -> dict[str, str]:
    """`form_params` for the OAuth endpoints, where a bad body is RFC 6749 invalid_request."""
    try:
        return await form_params(request)
    except BadParameters as exc:
        raise InvalidRequest(str(exc)) from exc


def required(form: dict[str, str], name: str) -> str:
    """The parameter's value; InvalidRequest when it is missing or empty."""
    value = form.get(name)
    if not value:
        raise InvalidRequest(f"Missing required parameter: {name}")
    return value


def scopes_of(value: str | None) -> list[str]:
    """A space-delimited scope string as a list without repeats, order kept."""
    return list(dict.fromkeys((value or "").split()))
