"""Token validation, case by case, through the real API over HTTP."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx
import pytest
from jose import jws

from testing.issuer import SigningKey, TestIssuer, sign_raw

PRIVATE = "/api/private"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def b64(data: dict[str, Any] | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def assert_invalid_token(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert response.json()["error"] == "invalid_token"


async def test_valid_token_is_accepted(client: httpx.AsyncClient, issuer: TestIssuer) -> None:
    response = await client.get(PRIVATE, headers=bearer(issuer.token()))
    assert response.status_code == 200
    assert "private endpoint" in response.json()["message"]


async def test_external_route_answers_like_the_sample(
    client: httpx.AsyncClient, issuer: TestIssuer
) -> None:
    response = await client.get("/api/external", headers=bearer(issuer.token()))
    assert response.json() == {"msg": "Your access token was successfully validated!"}


async def test_public_route_needs_no_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/public")
    assert response.status_code == 200
    assert "public endpoint" in response.json()["message"]


def now() -> int:
    return int(time.time())


@pytest.mark.parametrize(
    ("overrides", "accepted"),
    [
        pytest.param({"exp": -60}, False, id="expired"),
        pytest.param({"exp": -2}, True, id="expired-within-tolerance"),
        pytest.param({"nbf": 60}, False, id="nbf-in-future"),
        pytest.param({"nbf": 2}, True, id="nbf-within-tolerance"),
        # Clock skew: like the reference, only exp and nbf are judged against the clock.
        pytest.param({"iat": 3600}, True, id="iat-in-future"),
        pytest.param({"exp": None}, False, id="no-exp"),
        pytest.param({"exp": "9999999999"}, False, id="exp-as-string"),
        pytest.param({"exp": 10**400}, False, id="exp-10-to-the-400"),
        pytest.param({"nbf": -(10**400)}, False, id="nbf-minus-10-to-the-400"),
        pytest.param({"iat": None}, True, id="no-iat"),
    ],
)
async def test_time_claims(
    client: httpx.AsyncClient, issuer: TestIssuer, overrides: dict[str, Any], accepted: bool
) -> None:
    claims = {
        name: (now() + value if isinstance(value, int) else value)
        for name, value in overrides.items()
    }
    response = await client.get(PRIVATE, headers=bearer(issuer.token(**claims)))
    if accepted:
        assert response.status_code == 200, response.text
    else:
        assert_invalid_token(response)


@pytest.mark.parametrize(
    ("overrides", "accepted"),
    [
        pytest.param({"iss": "https://evil.test/"}, False, id="wrong-iss"),
        pytest.param({"iss": None}, False, id="no-iss"),
        pytest.param({"aud": "https://other/api"}, False, id="wrong-aud"),
        pytest.param({"aud": None}, False, id="no-aud"),
        pytest.param({"aud": "https://quickstarts/api"}, True, id="aud-string"),
        pytest.param({"aud": ["https://x/", "https://quickstarts/api"]}, True, id="aud-array"),
        pytest.param({"aud": ["https://x/", "https://y/"]}, False, id="aud-array-without-ours"),
        pytest.param({"sub": 42}, False, id="sub-not-string"),
        pytest.param({"client_id": ["a"]}, False, id="client_id-not-string"),
        pytest.param({"jti": 7}, False, id="jti-not-string"),
        pytest.param({"client_id": "abc", "jti": "x"}, True, id="string-client_id-jti"),
    ],
)
async def test_identity_claims(
    client: httpx.AsyncClient, issuer: TestIssuer, overrides: dict[str, Any], accepted: bool
) -> None:
    response = await client.get(PRIVATE, headers=bearer(issuer.token(**overrides)))
    if accepted:
        assert response.status_code == 200, response.text
    else:
        assert_invalid_token(response)


async def test_issuer_without_trailing_slash_is_refused(
    client: httpx.AsyncClient, issuer: TestIssuer
) -> None:
    token = issuer.token(iss=issuer.url.rstrip("/"))
    assert_invalid_token(await client.get(PRIVATE, headers=bearer(token)))


async def test_alg_none_is_refused(client: httpx.AsyncClient, issuer: TestIssuer) -> None:
    header = {"alg": "none", "typ": "JWT", "kid": issuer.keys[0].kid}
    token = f"{b64(header)}.{b64(issuer.claims())}."
    assert_invalid_token(await client.get(PRIVATE, headers=bearer(token)))


async def test_hs256_signed_with_the_public_key_is_refused(
    client: httpx.AsyncClient, issuer: TestIssuer
) -> None:
    # The classic algorithm-confusion attack: the public key used as an HMAC secret.
    key = issuer.keys[0]
    header = {"alg": "HS256", "typ": "JWT", "kid": key.kid}
    token = sign_raw(header, issuer.claims(), key.public_pem.encode(), "HS256")
    assert_invalid_token(await client.get(PRIVATE, headers=bearer(token)))


@pytest.mark.parametrize("alg", ["RS384", "PS256", "ES256"])
async def test_algorithms_outside_the_allow_list_are_refused(
    client: httpx.AsyncClient, issuer: TestIssuer, alg: str
) -> None:
    key = SigningKey.generate(alg)
    issuer.keys.append(key)  # published in the JWKS, yet RS256 is the only algorithm allowed
    if alg == "PS256":
        header = {"alg": alg, "typ": "JWT", "kid": key.kid}
        token = sign_raw(header, issuer.claims(), key.pem.encode(), alg)
    else:
        token = issuer.sign(issuer.claims(), key)
    assert_invalid_token(await client.get(PRIVATE, headers=bearer(token)))


async def test_rs256_token_for_a_key_published_for_another_alg_is_refused(
    client: httpx.AsyncClient, issuer: TestIssuer
) -> None:
    key = SigningKey.generate("RS256")
    key.public_jwk["alg"] = "RS512"  # the JWK says it is not for RS256
    issuer.keys.append(key)
    assert_invalid_token(
        await client.get(PRIVATE, headers=bearer(issuer.sign(issuer.claims(), key)))
    )


async def test_token_signed_by_an_unknown_key_with_a_known_kid_is_refused(
    client: httpx.AsyncClient, issuer: TestIssuer
) -> None:
    forger = SigningKey.generate(kid=issuer.keys[0].kid)
    assert_invalid_token(
        await client.get(PRIVATE, headers=bearer(issuer.sign(issuer.claims(), forger)))
    )


KEY_SELECTING_HEADERS = {
    "jku": "http://127.0.0.1:9/jwks.json",  # nothing listens there: fetching would fail
    "x5u": "http://127.0.0.1:9/cert.pem",
    "x5c": ["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"],
}


@pytest.mark.parametrize("param", [*KEY_SELECTING_HEADERS, "jwk"])
async def test_key_selecting_headers_are_ignored(
    client: httpx.AsyncClient, issuer: TestIssuer, param: str
) -> None:
    """Signed by the issuer's key, the token is good whatever its header points at: the
    API never fetches `jku`/`x5u` (the issuer saw one discovery and one JWKS fetch only)."""
    value = KEY_SELECTING_HEADERS.get(param, issuer.keys[0].public_jwk)
    token = issuer.sign(issuer.claims(), headers={param: value})
    response = await client.get(PRIVATE, headers=bearer(token))
    assert response.status_code == 200, response.text
    assert issuer.fetches == {"discovery": 1, "jwks": 1}


@pytest.mark.parametrize("kid", [None, "issuer"])
async def test_embedded_key_is_never_trusted(
    client: httpx.AsyncClient, issuer: TestIssuer, kid: str | None
) -> None:
    """An attacker's token carrying the attacker's own public key as `jwk` (with no kid,
    or with the issuer's): judged against the issuer's JWKS, its signature fails."""
    attacker = SigningKey.generate()
    headers = {"jwk": attacker.public_jwk, "kid": issuer.keys[0].kid if kid else None}
    token = issuer.sign(issuer.claims(), key=attacker, headers=headers)
    assert_invalid_token(await client.get(PRIVATE, headers=bearer(token)))


async def test_critical_header_is_refused(client: httpx.AsyncClient, issuer: TestIssuer) -> None:
    token = issuer.sign(issuer.claims(), headers={"crit": ["exp"]})
    assert_invalid_token(await client.get(PRIVATE, headers=bearer(token)))


async def test_tampered_payload_is_refused(client: httpx.AsyncClient, issuer: TestIssuer) -> None:
    header, _, signature = issuer.token().split(".")
    forged = b64(issuer.claims(sub="auth0|someone-else"))
    assert_invalid_token(
        await client.get(PRIVATE, headers=bearer(f"{header}.{forged}.{signature}"))
    )


async def test_tampered_signature_is_refused(client: httpx.AsyncClient, issuer: TestIssuer) -> None:
    header, payload, signature = issuer.token().split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    assert_invalid_token(await client.get(PRIVATE, headers=bearer(f"{header}.{payload}.{flipped}")))


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("garbage", id="garbage"),
        pytest.param("a.b", id="two-parts"),
        pytest.param("a.b.c.d", id="four-parts"),
        pytest.param("a.b.c.d.e", id="five-parts-jwe"),
        pytest.param("eyJhbGciOiJSUzI1NiJ9.%%%.abc", id="bad-base64"),
        pytest.param(f"{b64(b'[1]')}.{b64(b'{}')}.c2ln", id="header-not-object"),
    ],
)
async def test_malformed_tokens_are_refused(client: httpx.AsyncClient, token: str) -> None:
    response = await client.get(PRIVATE, params={"access_token": token})
    assert_invalid_token(response)
    assert token not in response.text  # errors never echo the token


async def test_oversized_token_in_a_form_body_is_refused_unparsed(
    client: httpx.AsyncClient,
) -> None:
    """In a header it would be refused with 431 (api/header_limit.py); a form body is not
    capped by that, so the verifier's own length limit answers."""
    token = "A" * 20_000
    response = await client.post(PRIVATE, data={"access_token": token})
    assert_invalid_token(response)
    assert response.json()["error_description"] == "The access token is malformed"


async def test_payload_that_is_not_an_object_is_refused(
    client: httpx.AsyncClient, issuer: TestIssuer
) -> None:
    key = issuer.keys[0]
    token = jws.sign(b"[1, 2]", key.pem, headers={"kid": key.kid}, algorithm="RS256")
    assert_invalid_token(await client.get(PRIVATE, headers=bearer(token)))


@pytest.mark.parametrize(
    ("scope", "status"),
    [
        pytest.param("openid read:messages", 200, id="string"),
        pytest.param(["openid", "read:messages"], 200, id="array"),
        pytest.param("openid read:messagesX", 403, id="lookalike"),
        pytest.param(None, 403, id="missing"),
    ],
)
async def test_scopes(
    client: httpx.AsyncClient, issuer: TestIssuer, scope: Any, status: int
) -> None:
    response = await client.get("/api/private-scoped", headers=bearer(issuer.token(scope=scope)))
    assert response.status_code == status
    if status == 403:
        challenge = response.headers["www-authenticate"]
        assert 'error="insufficient_scope"' in challenge
        assert 'scope="read:messages"' in challenge
        assert response.json()["error"] == "insufficient_scope"


async def test_permissions_are_ignored_unless_enabled(
    client: httpx.AsyncClient, issuer: TestIssuer
) -> None:
    token = issuer.token(scope="openid", permissions=["read:messages"])
    response = await client.get("/api/private-scoped", headers=bearer(token))
    assert response.status_code == 403
