"""DPoP-bound tokens (RFC 9449) against the real API: each proof check, one at a time.

Every broken proof below differs from a valid one in exactly one way, so each test
proves that one check exists; `test_valid_proof_is_accepted` proves the baseline passes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from api.main import create_app
from testing.dpop import DpopKey, ath, b64url, bound_token
from testing.issuer import TestIssuer
from testing.servers import LiveServer
from tests.api.conftest import settings_for
from tests.api.forged import segment

PRIVATE = "/api/private"
SCOPED = "/api/private-scoped"


@pytest.fixture(scope="module")
def issuer(module_issuer: TestIssuer) -> TestIssuer:
    return module_issuer


@pytest.fixture(scope="module")
def api(issuer: TestIssuer) -> Iterator[LiveServer]:
    with LiveServer(create_app(settings_for(issuer))) as server:
        yield server


@pytest.fixture(scope="module")
def key() -> DpopKey:
    return DpopKey.generate()


def call(
    api: LiveServer,
    token: str,
    proof: str | None,
    *,
    scheme: str = "DPoP",
    path: str = PRIVATE,
    method: str = "GET",
) -> httpx.Response:
    headers = {"Authorization": f"{scheme} {token}"}
    if proof is not None:
        headers["DPoP"] = proof
    return httpx.request(method, api.url + path, headers=headers)


def assert_error(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    assert f'error="{error}"' in response.headers["www-authenticate"]


def test_valid_proof_is_accepted(api: LiveServer, issuer: TestIssuer, key: DpopKey) -> None:
    token = bound_token(issuer, key)
    response = call(api, token, key.proof("GET", api.url + PRIVATE, token))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("alg", ["ES384", "ES512", "RS256"])
def test_other_asymmetric_algorithms_are_accepted(
    api: LiveServer, issuer: TestIssuer, alg: str
) -> None:
    other = DpopKey.generate(alg)
    token = bound_token(issuer, other)
    assert call(api, token, other.proof("GET", api.url + PRIVATE, token)).status_code == 200


def test_a_proof_is_accepted_once(api: LiveServer, issuer: TestIssuer, key: DpopKey) -> None:
    token = bound_token(issuer, key)
    proof = key.proof("GET", api.url + PRIVATE, token)
    assert call(api, token, proof).status_code == 200
    assert_error(call(api, token, proof), 400, "invalid_dpop_proof")


def test_bound_token_as_bearer_is_refused(
    api: LiveServer, issuer: TestIssuer, key: DpopKey
) -> None:
    """A token copied out of a session store, used without the key."""
    response = call(api, bound_token(issuer, key), None, scheme="Bearer")
    assert_error(response, 401, "invalid_token")
    assert response.headers["www-authenticate"].startswith('Bearer realm="api", error=')


def test_bound_token_without_proof_is_400(
    api: LiveServer, issuer: TestIssuer, key: DpopKey
) -> None:
    response = call(api, bound_token(issuer, key), None)
    assert response.status_code == 400


def test_proof_from_another_key_is_invalid_token(api: LiveServer, issuer: TestIssuer) -> None:
    """The thief has the token and makes a perfect proof, with the wrong key."""
    victim, thief = DpopKey.generate(), DpopKey.generate()
    token = bound_token(issuer, victim)
    response = call(api, token, thief.proof("GET", api.url + PRIVATE, token))
    assert_error(response, 401, "invalid_token")
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="api", DPoP error="invalid_token"')
    assert 'algs="ES256 ES384 ES512 RS256 RS384 RS512"' in challenge


def test_unbound_token_with_dpop_scheme_is_invalid_token(
    api: LiveServer, issuer: TestIssuer, key: DpopKey
) -> None:
    token = issuer.token()
    assert_error(call(api, token, key.proof("GET", api.url + PRIVATE, token)), 401, "invalid_token")


def test_two_proofs_are_refused(api: LiveServer, issuer: TestIssuer, key: DpopKey) -> None:
    token = bound_token(issuer, key)
    proofs = [("DPoP", key.proof("GET", api.url + PRIVATE, token)) for _ in range(2)]
    response = httpx.get(api.url + PRIVATE, headers=[("Authorization", f"DPoP {token}"), *proofs])
    assert_error(response, 400, "invalid_dpop_proof")


# One broken thing per proof: (claims overrides, header overrides, signing alg).
BROKEN_PROOFS: dict[str, dict[str, Any]] = {
    "typ-jwt": {"header": {"typ": "JWT"}},
    "typ-missing": {"header": {"typ": None}},
    "jwk-missing": {"header": {"jwk": None}},
    "jwk-private": {"header": {"jwk": "private"}},
    "jwk-other-curve": {"header": {"jwk": "p384"}},
    "crit": {"header": {"crit": ["exp"]}},
    "htm-other": {"htm": "POST"},
    "htm-missing": {"htm": None},
    "htu-other-path": {"htu": "/api/other"},
    "htu-other-host": {"htu": "http://evil.example/api/private"},
    "htu-missing": {"htu": None},
    "iat-old": {"iat": int(time.time()) - 301},
    "iat-future": {"iat": int(time.time()) + 120},
    "iat-string": {"iat": str(int(time.time()))},
    "iat-missing": {"iat": None},
    "jti-missing": {"jti": None},
    "jti-number": {"jti": 12345},
    "ath-other-token": {"ath": ath("another-token")},
    "ath-missing": {"ath": None},
    "exp-past": {"exp": int(time.time()) - 10},
}


@pytest.mark.parametrize("name", list(BROKEN_PROOFS))
def test_broken_proof_is_invalid_dpop_proof(
    api: LiveServer, issuer: TestIssuer, key: DpopKey, name: str
) -> None:
    overrides = dict(BROKEN_PROOFS[name])
    header = overrides.pop("header", {})
    if header.get("jwk") == "private":
        header["jwk"] = key.private_jwk
    elif header.get("jwk") == "p384":
        header["jwk"] = DpopKey.generate("ES384").public_jwk
    if isinstance(overrides.get("htu"), str) and overrides["htu"].startswith("/"):
        overrides["htu"] = api.url + overrides["htu"]
    token = bound_token(issuer, key)
    proof = key.proof("GET", api.url + PRIVATE, token, header=header, **overrides)
    assert_error(call(api, token, proof), 400, "invalid_dpop_proof")


def test_forged_signature_is_refused(api: LiveServer, issuer: TestIssuer, key: DpopKey) -> None:
    token = bound_token(issuer, key)
    head, payload, signature = key.proof("GET", api.url + PRIVATE, token).split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    assert_error(call(api, token, f"{head}.{payload}.{flipped}"), 400, "invalid_dpop_proof")


def test_small_rsa_key_is_refused(api: LiveServer, issuer: TestIssuer) -> None:
    weak = DpopKey.generate("RS256", rsa_bits=1024)
    token = bound_token(issuer, weak)
    proof = weak.proof("GET", api.url + PRIVATE, token)
    assert_error(call(api, token, proof), 400, "invalid_dpop_proof")


def test_htu_ignores_query_and_normalizes(
    api: LiveServer, issuer: TestIssuer, key: DpopKey
) -> None:
    token = bound_token(issuer, key)
    url = api.url.replace("http://", "HTTP://") + "/api/%70rivate?x=1#frag"
    response = httpx.get(
        api.url + PRIVATE + "?unrelated=1",
        headers={"Authorization": f"DPoP {token}", "DPoP": key.proof("GET", url, token)},
    )
    assert response.status_code == 200, response.text


def test_post_needs_a_post_proof(api: LiveServer, issuer: TestIssuer, key: DpopKey) -> None:
    token = bound_token(issuer, key)
    url = api.url + PRIVATE
    assert call(api, token, key.proof("POST", url, token), method="POST").status_code == 200
    response = call(api, token, key.proof("GET", url, token), method="POST")
    assert_error(response, 400, "invalid_dpop_proof")


def test_insufficient_scope_answers_in_the_dpop_scheme(
    api: LiveServer, issuer: TestIssuer, key: DpopKey
) -> None:
    token = bound_token(issuer, key, scope="openid")
    response = call(api, token, key.proof("GET", api.url + SCOPED, token), path=SCOPED)
    assert_error(response, 403, "insufficient_scope")
    assert response.headers["www-authenticate"].startswith('DPoP error="insufficient_scope"')


@pytest.mark.parametrize("mode", ["required", "disabled"])
def test_modes(issuer: TestIssuer, key: DpopKey, mode: str) -> None:
    with LiveServer(create_app(settings_for(issuer, dpop_mode=mode))) as server:
        token = bound_token(issuer, key)
        dpop = call(server, token, key.proof("GET", server.url + PRIVATE, token))
        bearer = call(server, issuer.token(), None, scheme="Bearer")
        missing = httpx.get(server.url + PRIVATE)
    if mode == "required":
        assert dpop.status_code == 200
        assert bearer.status_code == 400
        assert (
            missing.headers["www-authenticate"] == 'DPoP algs="ES256 ES384 ES512 RS256 RS384 RS512"'
        )
    else:
        assert dpop.status_code == 400  # the DPoP scheme is not spoken at all
        assert bearer.status_code == 200
        assert missing.headers["www-authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize(
    "header",
    [
        {"alg": ["ES256"]},
        {"typ": 1},
        {"jwk": "a string"},
        {"jwk": {"kty": ["EC"], "crv": "P-256", "x": "x", "y": "y"}},
        {"jwk": {"kty": "EC", "crv": ["P-256"], "x": "x", "y": "y"}},
        {"jwk": {"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}},  # not on the curve
        {"jwk": {"kty": "RSA", "n": "!!", "e": "AQAB"}},
    ],
    ids=["alg-list", "typ-number", "jwk-string", "kty-list", "crv-list", "ec-off-curve", "n-junk"],
)
def test_odd_proof_headers_are_400_never_500(
    api: LiveServer, issuer: TestIssuer, key: DpopKey, header: dict[str, Any]
) -> None:
    token = bound_token(issuer, key)
    claims = key.claims("GET", api.url + PRIVATE, token)
    head = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.public_jwk, **header}
    proof = f"{segment(head)}.{segment(claims)}.{b64url(b'x' * 64)}"
    assert_error(call(api, token, proof), 400, "invalid_dpop_proof")
