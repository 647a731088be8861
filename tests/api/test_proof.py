"""The DPoP building blocks on their own: thumbprints, URL normalization, replay memory,
the parsed-key cache and the compact serialization."""

from __future__ import annotations

import pytest
from jose import jws

from api.config import DPOP_ALGORITHMS
from api.errors import InvalidDpopProof, InvalidRequest
from api.proof import ProofKeys, ProofVerifier, _key_fits, normalize_url, thumbprint
from api.replay import ReplayCache
from testing.dpop import DpopKey, b64url

# RFC 7638 §3.1's example key and its thumbprint.
RFC7638_KEY = {
    "kty": "RSA",
    "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc"
    "_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0"
    "_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWh"
    "AI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
    "e": "AQAB",
    "alg": "RS256",
    "kid": "2011-04-29",
}


def test_thumbprint_matches_rfc_7638() -> None:
    assert thumbprint(RFC7638_KEY) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_thumbprint_of_an_ec_key_ignores_other_members() -> None:
    key = DpopKey.generate()
    assert thumbprint({**key.public_jwk, "use": "sig", "kid": "x"}) == key.thumbprint


@pytest.mark.parametrize(
    ("url", "normalized"),
    [
        ("https://API.example.com:443/a?q=1#f", "https://api.example.com/a"),
        ("http://localhost:80", "http://localhost/"),
        ("http://127.0.0.1:3001/%7euser/%2f", "http://127.0.0.1:3001/~user/%2F"),
        ("http://[::1]:3001/x", "http://[::1]:3001/x"),
    ],
)
def test_normalize_url(url: str, normalized: str) -> None:
    assert normalize_url(url) == normalized


@pytest.mark.parametrize("url", ["ftp://host/x", "/relative", "http://:80/", "http://h:99999/"])
def test_normalize_url_refuses_what_is_not_an_http_url(url: str) -> None:
    with pytest.raises(InvalidDpopProof):
        normalize_url(url, InvalidDpopProof)
    with pytest.raises(InvalidRequest):
        normalize_url(url)


def test_replay_cache_refuses_a_second_use_and_forgets_after_the_window() -> None:
    now = [1000.0]
    cache = ReplayCache(window=300, max_entries=10, clock=lambda: now[0])
    assert cache.first_use("jkt", "a", 1000)
    assert not cache.first_use("jkt", "a", 1000)
    assert cache.first_use("other-key", "a", 1000)  # ids are per key
    now[0] = 1301.0
    assert cache.first_use("jkt", "b", 1301)
    assert len(cache) == 1  # the old entries left with their window


def test_full_replay_cache_refuses_what_it_may_have_forgotten() -> None:
    now = [1000.0]
    cache = ReplayCache(window=300, max_entries=3, clock=lambda: now[0])
    for index, iat in enumerate([990, 995, 996, 997]):  # the fourth forgets the first
        assert cache.first_use("jkt", str(index), iat)
    assert len(cache) == 3
    assert not cache.first_use("jkt", "0", 990)  # forgotten, but still refused
    assert cache.first_use("jkt", "new", 1000)  # fresh proofs still pass


def test_future_proofs_cannot_raise_the_floor_past_now() -> None:
    now = [1000.0]
    cache = ReplayCache(window=300, max_entries=1, clock=lambda: now[0])
    assert cache.first_use("jkt", "a", 1030)
    assert cache.first_use("jkt", "b", 1030)  # forgets "a": floor = now, not 1030
    now[0] = 1001.0
    assert cache.first_use("jkt", "fresh", 1001)


def test_keys_that_would_be_slow_or_weak_to_verify_do_not_fit() -> None:
    key = DpopKey.generate("RS256").public_jwk
    assert _key_fits(key, "RS256")
    assert not _key_fits(key, "ES256")  # an RSA key for an EC algorithm
    huge_exponent = {**key, "e": b64url(b"\x01" * 512)}
    assert not _key_fits(huge_exponent, "RS256")
    huge_modulus = {**key, "n": b64url(b"\xff" * 1100)}  # 8800 bits
    assert not _key_fits(huge_modulus, "RS256")
    ec = DpopKey.generate("ES256").public_jwk
    assert _key_fits(ec, "ES256")
    assert not _key_fits(ec, "ES384")


URL = "http://api.test/api/private"


def _verifier() -> ProofVerifier:
    replay = ReplayCache(window=300, max_entries=1_000)
    return ProofVerifier(algorithms=DPOP_ALGORITHMS, max_age=300, leeway=30, replay=replay)


def test_proof_keys_are_built_once_per_key_and_bounded() -> None:
    keys = ProofKeys(max_keys=2)
    first, second, third = (DpopKey.generate() for _ in range(3))
    built, jkt = keys.get(first.public_jwk, "ES256")
    assert jkt == first.thumbprint
    assert keys.get({**first.public_jwk, "kid": "other"}, "ES256")[0] is built  # same key
    keys.get(second.public_jwk, "ES256")
    keys.get(third.public_jwk, "ES256")  # the least recently used, `first`, is forgotten
    assert keys.get(first.public_jwk, "ES256")[0] is not built


def test_a_cached_key_is_checked_again_under_another_algorithm() -> None:
    keys = ProofKeys()
    key = DpopKey.generate("ES256")
    keys.get(key.public_jwk, "ES256")
    with pytest.raises(InvalidDpopProof, match="does not fit"):
        keys.get(key.public_jwk, "ES384")  # a P-256 key cannot sign ES384


def test_a_cached_key_sent_with_its_private_part_is_refused() -> None:
    verifier, key = _verifier(), DpopKey.generate()
    verifier.verify(
        key.proof("GET", URL, "t"), method="GET", url=URL, token="t", jkt=key.thumbprint
    )
    leaking = key.proof("GET", URL, "t", header={"jwk": key.private_jwk})
    with pytest.raises(InvalidDpopProof, match="public key"):
        verifier.verify(leaking, method="GET", url=URL, token="t", jkt=key.thumbprint)


@pytest.mark.parametrize("change", ["padding", "standard alphabet", "whitespace"])
def test_a_proof_outside_compact_base64url_is_malformed(change: str) -> None:
    key = DpopKey.generate()
    header, payload, signature = key.proof("GET", URL, "t").split(".")
    if change == "padding":
        signature += "=="
    elif change == "standard alphabet":
        signature = signature.replace("-", "+").replace("_", "/") + "+/"
    else:
        payload = payload[:10] + " " + payload[10:]
    with pytest.raises(InvalidDpopProof, match="malformed"):
        _verifier().verify(
            f"{header}.{payload}.{signature}", method="GET", url=URL, token="t", jkt="x"
        )


@pytest.mark.parametrize("part", ["header", "payload"])
def test_json_nested_too_deep_is_a_400_not_a_crash(part: str) -> None:
    """A few thousand `[` fit in a proof and exhaust the JSON parser's recursion limit."""
    key = DpopKey.generate()
    nested = "[" * 4_000
    if part == "header":
        proof = f"{b64url(nested.encode())}.{b64url(b'{}')}.{b64url(b'x')}"
    else:
        headers = {"typ": "dpop+jwt", "jwk": key.public_jwk}
        proof = jws.sign(nested.encode(), key.signer, headers=headers, algorithm="ES256")
    with pytest.raises(InvalidDpopProof):
        _verifier().verify(proof, method="GET", url=URL, token="t", jkt=key.thumbprint)
