"""DPoP (RFC 9449): our API and express-oauth2-jwt-bearer, proof for proof, in each mode.

Each case builds headers for one server (a proof names the URL it is for, so each server
gets its own proof, made with the same key for the same token) and both must give the
same verdict and the same challenge shape (`challenge_shape`).  Deliberate differences
name both verdicts and say why.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from api.main import create_app
from testing.dpop import DpopKey, ath, bound_token
from testing.issuer import TestIssuer, sign_raw
from testing.servers import LiveServer
from tests.api.conftest import settings_for
from tests.api.forged import segment
from tests.api.test_conformance import Verdict, challenge_shape
from tests.reference import ExpressReference

pytestmark = pytest.mark.node

PRIVATE, SCOPED = "/api/private", "/api/private-scoped"
OK = Verdict(200)
BAD_PROOF = Verdict(400, "invalid_dpop_proof")
INVALID_TOKEN = Verdict(401, "invalid_token")
INVALID_REQUEST = Verdict(400, "invalid_request")
BARE_400 = Verdict(400)  # Express: a 400 with no error code (ours names invalid_request)
KEY = DpopKey.generate()
OTHER_KEY = DpopKey.generate()


@dataclass(frozen=True)
class Request:
    """What a case knows when it builds headers for one server."""

    issuer: TestIssuer
    url: str  # the URL of the request, as a proof's htu names it

    def token(self, **overrides: Any) -> str:
        return bound_token(self.issuer, KEY, **overrides)

    def dpop(self, token: str, proof: str | None = None, **proof_claims: Any) -> dict[str, str]:
        """`Authorization: DPoP <token>` with a proof, valid unless `proof_claims` say."""
        proof = proof or KEY.proof("GET", self.url, token, **proof_claims)
        return {"Authorization": f"DPoP {token}", "DPoP": proof}

    def with_header(self, **header: Any) -> dict[str, str]:
        token = self.token()
        return self.dpop(token, KEY.proof("GET", self.url, token, header=header))


Headers = Callable[[Request], dict[str, str] | list[tuple[str, str]]]


@dataclass(frozen=True)
class Case:
    id: str
    headers: Headers
    expected: Verdict  # Express's verdict, and ours unless `ours` says otherwise
    ours: Verdict | None = None  # only where we deliberately differ (the comment says why)
    mode: str = "allowed"
    path: str = PRIVATE
    same_challenges: bool = True  # False only where the comment says why they differ


def proof_claims(**claims: Any) -> Headers:
    return lambda r: r.dpop(r.token(), **claims)


def _now(offset: int = 0) -> int:
    return int(time.time()) + offset


def _unsigned(r: Request) -> dict[str, str]:
    token = r.token()
    header = {"typ": "dpop+jwt", "alg": "none", "jwk": KEY.public_jwk}
    return r.dpop(token, f"{segment(header)}.{segment(KEY.claims('GET', r.url, token))}.")


CASES = [
    Case("valid", lambda r: r.dpop(r.token()), OK),
    Case("valid-es384", lambda r: _with_key(r, DpopKey.generate("ES384")), OK),
    Case("valid-rs256", lambda r: _with_key(r, DpopKey.generate("RS256")), OK),
    Case("typ-application-prefix", lambda r: r.with_header(typ="application/dpop+jwt"), OK),
    Case("htm-lowercase", proof_claims(htm="get"), OK),
    Case("htu-with-query-and-fragment", lambda r: r.dpop(r.token(), htu=r.url + "?a=1#b"), OK),
    Case("htu-percent-encoded", lambda r: _htu(r, r.url.replace("private", "%70rivate")), OK),
    Case("htu-uppercase-scheme", lambda r: _htu(r, r.url.replace("http:", "HTTP:")), OK),
    Case("iat-within-leeway", proof_claims(iat=_now(20)), OK),
    Case("scoped", lambda r: r.dpop(r.token()), OK, path=SCOPED),
    # Express answers a DPoP request's missing scope with a Bearer challenge; RFC 9449 §7.1
    # says the DPoP scheme, which ours uses (api/errors.py InsufficientScope).
    Case(
        "scoped-without-scope",
        lambda r: r.dpop(r.token(scope="openid")),
        Verdict(403, "insufficient_scope", "read:messages"),
        path=SCOPED,
        same_challenges=False,
    ),
    Case("expired-bound-token", lambda r: r.dpop(r.token(exp=_now(-60))), INVALID_TOKEN),
    # The token and scheme
    Case("bound-as-bearer", lambda r: {"Authorization": f"Bearer {r.token()}"}, INVALID_TOKEN),
    Case("unbound-with-dpop", lambda r: r.dpop(r.issuer.token()), INVALID_TOKEN),
    Case("cnf-without-jkt", lambda r: r.dpop(r.issuer.token(cnf={"x": "y"})), INVALID_TOKEN),
    Case("other-key", lambda r: _with_key(r, OTHER_KEY, token=r.token()), INVALID_TOKEN),
    Case(
        "proof-with-bearer",
        lambda r: {"Authorization": f"Bearer {r.issuer.token()}", "DPoP": "x.y.z"},
        INVALID_REQUEST,
    ),
    Case(
        "dpop-scheme-no-proof",
        lambda r: {"Authorization": f"DPoP {r.token()}"},
        BARE_400,
        ours=INVALID_REQUEST,  # RFC 6750 §3.1's code for a malformed request (api/bearer.py)
    ),
    Case("proof-no-token", lambda r: {"DPoP": "x.y.z"}, BARE_400, ours=INVALID_REQUEST),
    Case(
        "two-proofs",
        lambda r: [*r.dpop(r.token()).items(), ("DPoP", KEY.proof("GET", r.url, "x"))],
        BAD_PROOF,
    ),
    # The proof's header
    Case("typ-jwt", lambda r: r.with_header(typ="JWT"), BAD_PROOF),
    Case("typ-missing", lambda r: r.with_header(typ=None), BAD_PROOF),
    Case("jwk-missing", lambda r: r.with_header(jwk=None), BAD_PROOF),
    Case("jwk-private", lambda r: r.with_header(jwk=KEY.private_jwk), BAD_PROOF),
    Case(
        "jwk-p384-for-es256", lambda r: _with_key(r, DpopKey.generate("ES384"), "ES256"), BAD_PROOF
    ),
    Case("rsa-1024", lambda r: _with_key(r, DpopKey.generate("RS256", 1024)), BAD_PROOF),
    Case("crit", lambda r: r.with_header(crit=["exp"], exp=1), BAD_PROOF),
    Case("alg-none", _unsigned, BAD_PROOF),
    # python-jose has no PS256, so our API neither verifies nor advertises it (`algs`).
    Case("ps256", lambda r: _ps256(r), OK, ours=BAD_PROOF),
    Case("signature-flipped", lambda r: _flipped(r), BAD_PROOF),
    # The proof's claims
    Case("htm-post", proof_claims(htm="POST"), BAD_PROOF),
    Case("htm-missing", proof_claims(htm=None), BAD_PROOF),
    Case("htu-other-path", lambda r: _htu(r, r.url + "-scoped"), BAD_PROOF),
    Case("htu-other-host", lambda r: _htu(r, "http://evil.example/api/private"), BAD_PROOF),
    Case("htu-not-a-url", proof_claims(htu="garbage"), BAD_PROOF),
    Case("htu-missing", proof_claims(htu=None), BAD_PROOF),
    Case("iat-too-old", proof_claims(iat=_now(-400)), BAD_PROOF),
    Case("iat-future", proof_claims(iat=_now(120)), BAD_PROOF),
    Case("iat-string", proof_claims(iat=str(_now())), BAD_PROOF),
    Case("iat-missing", proof_claims(iat=None), BAD_PROOF),
    Case("exp-past", proof_claims(exp=_now(-10)), BAD_PROOF),
    Case("jti-missing", proof_claims(jti=None), BAD_PROOF),
    # RFC 7519 §4.1.7: jti is a string; Express only checks that one is present.
    Case("jti-number", proof_claims(jti=12345), OK, ours=BAD_PROOF),
    Case("ath-other-token", proof_claims(ath=ath("another")), BAD_PROOF),
    Case("ath-missing", proof_claims(ath=None), BAD_PROOF),
    # Modes
    Case("required-valid", lambda r: r.dpop(r.token()), OK, mode="required"),
    Case(
        "required-bearer",
        lambda r: {"Authorization": f"Bearer {r.issuer.token()}"},
        BARE_400,
        ours=INVALID_REQUEST,
        mode="required",
    ),
    Case("required-no-token", lambda r: {}, Verdict(401), mode="required"),
    Case("required-bad-proof", proof_claims(htm="POST"), BAD_PROOF, mode="required"),
    Case(
        "disabled-dpop-scheme",
        lambda r: r.dpop(r.token()),
        BARE_400,
        ours=INVALID_REQUEST,
        mode="disabled",
    ),
    Case(
        "disabled-bound-as-bearer",
        lambda r: {"Authorization": f"Bearer {r.token()}"},
        OK,
        mode="disabled",
    ),
    Case("disabled-no-token", lambda r: {}, Verdict(401), mode="disabled"),
]


def _with_key(r: Request, key: DpopKey, alg: str | None = None, token: str = "") -> Any:
    token = token or bound_token(r.issuer, key)
    return r.dpop(token, key.proof("GET", r.url, token, alg=alg))


def _htu(r: Request, htu: str) -> dict[str, str]:
    return r.dpop(r.token(), htu=htu)


def _ps256(r: Request) -> dict[str, str]:
    key = DpopKey.generate("RS256")
    token = bound_token(r.issuer, key)
    header = {"typ": "dpop+jwt", "alg": "PS256", "jwk": key.public_jwk}
    return r.dpop(
        token, sign_raw(header, key.claims("GET", r.url, token), key.pem.encode(), "PS256")
    )


def _flipped(r: Request) -> dict[str, str]:
    token = r.token()
    head, payload, signature = KEY.proof("GET", r.url, token).split(".")
    return r.dpop(token, f"{head}.{payload}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}")


@pytest.fixture(scope="module")
def issuer(module_issuer: TestIssuer) -> TestIssuer:
    return module_issuer


@pytest.fixture(scope="module")
def servers(issuer: TestIssuer) -> Iterator[dict[str, dict[str, str]]]:
    """For each mode, the base URL of our API and of Express."""
    modes = ("allowed", "required", "disabled")
    references = [ExpressReference(issuer.url, issuer.audience, dpop=mode) for mode in modes]
    ours = [LiveServer(create_app(settings_for(issuer, dpop_mode=mode))) for mode in modes]
    try:
        for server in [*references, *ours]:
            server.start()
        yield {
            mode: {"express": express.url, "ours": api.url}
            for mode, express, api in zip(modes, references, ours, strict=True)
        }
    finally:
        for server in [*references, *ours]:
            server.stop()


def send(base_url: str, issuer: TestIssuer, case: Case) -> httpx.Response:
    headers = case.headers(Request(issuer, base_url + case.path))
    return httpx.get(base_url + case.path, headers=headers, timeout=10.0)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_same_verdict_as_express(
    case: Case, issuer: TestIssuer, servers: dict[str, dict[str, str]]
) -> None:
    urls = servers[case.mode]
    express, ours = (send(urls[name], issuer, case) for name in ("express", "ours"))
    assert Verdict.of(express) == case.expected
    assert Verdict.of(ours) == (case.ours or case.expected)
    if case.ours is None and case.same_challenges:
        assert challenge_shape(ours) == challenge_shape(express)
    elif case.ours is None:
        assert challenge_shape(ours) != challenge_shape(express)


def test_replayed_proof_is_refused(issuer: TestIssuer, servers: dict[str, dict[str, str]]) -> None:
    """Deliberate difference: RFC 9449 §11.1 asks servers to refuse a proof seen before
    (our bounded replay cache, api/replay.py); express-oauth2-jwt-bearer 1.10 keeps no
    record of jti, so it accepts the replay."""
    verdicts = {}
    for name, base in servers["allowed"].items():
        request = Request(issuer, base + PRIVATE)
        headers = request.dpop(request.token())
        first = httpx.get(base + PRIVATE, headers=headers)
        verdicts[name] = (first.status_code, Verdict.of(httpx.get(base + PRIVATE, headers=headers)))
    assert verdicts == {"express": (200, OK), "ours": (200, BAD_PROOF)}


def test_challenge_shape_reads_every_scheme_and_parameter() -> None:
    value = 'Bearer realm="api", DPoP error="invalid_token", error_description="a, b", algs="x"'
    response = httpx.Response(401, headers={"WWW-Authenticate": value})
    assert challenge_shape(response) == [
        ("Bearer", frozenset({"realm"})),
        ("DPoP", frozenset({"error", "error_description", "algs"})),
    ]
