"""Where the API looks for the token, and the RFC 6750 answer for each header form."""

from __future__ import annotations

import re
import sys

import httpx
import pytest

from api.bearer import _one_word
from testing.issuer import TestIssuer

PRIVATE = "/api/private"
# No credentials: both schemes offered, neither with an error (DPoP is allowed by default).
NO_TOKEN_CHALLENGE = 'Bearer realm="api", DPoP algs="ES256 ES384 ES512 RS256 RS384 RS512"'


async def test_no_token_is_401_without_an_error_code(client: httpx.AsyncClient) -> None:
    response = await client.get(PRIVATE)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == NO_TOKEN_CHALLENGE
    assert set(response.json()) == {"error", "error_description"}


async def test_empty_authorization_header_counts_as_no_token(client: httpx.AsyncClient) -> None:
    response = await client.get(PRIVATE, headers={"Authorization": ""})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == NO_TOKEN_CHALLENGE


async def test_token_characters_are_judged_by_the_jwt_parser(client: httpx.AsyncClient) -> None:
    response = await client.get(PRIVATE, headers={"Authorization": "Bearer not*a,token"})
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


@pytest.mark.parametrize(
    "value",
    # ("Bearer " with a trailing space cannot be sent: HTTP strips header whitespace.)
    ["Bearer", "Bearer  abc", "Bearer a b", "Basic dXNlcjpwYXNz", "Token abc", "Digest x"],
    ids=["no-token", "two-spaces", "space-inside", "basic", "token", "digest"],
)
async def test_malformed_authorization_header_is_400(client: httpx.AsyncClient, value: str) -> None:
    response = await client.get(PRIVATE, headers={"Authorization": value})
    assert response.status_code == 400
    assert 'error="invalid_request"' in response.headers["www-authenticate"]
    assert response.json()["error"] == "invalid_request"


async def test_scheme_is_case_insensitive(client: httpx.AsyncClient, issuer: TestIssuer) -> None:
    response = await client.get(PRIVATE, headers={"Authorization": f"bEaReR {issuer.token()}"})
    assert response.status_code == 200


async def test_token_in_query(client: httpx.AsyncClient, issuer: TestIssuer) -> None:
    response = await client.get(PRIVATE, params={"access_token": issuer.token()})
    assert response.status_code == 200


async def test_token_in_form_body(client: httpx.AsyncClient, issuer: TestIssuer) -> None:
    response = await client.post(PRIVATE, data={"access_token": issuer.token()})
    assert response.status_code == 200


async def test_token_in_json_body_is_not_a_token(
    client: httpx.AsyncClient, issuer: TestIssuer
) -> None:
    response = await client.post(PRIVATE, json={"access_token": issuer.token()})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == NO_TOKEN_CHALLENGE


@pytest.mark.parametrize(
    "where",
    ["header+query", "header+form", "query+form", "query-twice"],
)
async def test_more_than_one_method_is_400(
    client: httpx.AsyncClient, issuer: TestIssuer, where: str
) -> None:
    token = issuer.token()
    headers = {"Authorization": f"Bearer {token}"} if "header" in where else {}
    params: list[tuple[str, str | int | float | bool | None]] = []
    if "query" in where:
        params.append(("access_token", token))
    if where == "query-twice":
        params.append(("access_token", token))
    data = {"access_token": token} if "form" in where else None
    response = await client.post(PRIVATE, headers=headers, params=params, data=data)
    assert response.status_code == 400
    assert 'error="invalid_request"' in response.headers["www-authenticate"]


async def test_oversized_form_body_is_refused_unread(client: httpx.AsyncClient) -> None:
    response = await client.post(PRIVATE, data={"access_token": "a", "pad": "x" * 100_000})
    assert response.status_code == 400


def test_a_token_is_one_word_exactly_when_it_has_no_regex_whitespace() -> None:
    """`_one_word` (str.split) refuses exactly the code points `\\s` matches."""
    whitespace = re.compile(r"\s")
    for code in range(sys.maxunicode + 1):
        token = f"a{chr(code)}b"
        assert _one_word(token) is (whitespace.search(token) is None), hex(code)
    assert not _one_word("")
