"""DPoP at the dev tenant's /oauth/token (RFC 9449 §5): bound access and refresh tokens."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from jose import jwt

from testing.dpop import DpopKey
from testing.servers import LiveServer
from tests.api.forged import segment
from tests.devtenant.helpers import CALLBACK, SPA, WEB, login_code
from tests.devtenant.test_token_endpoint import spa_code

KEY = DpopKey.generate()


def token_url(tenant: LiveServer) -> str:
    return f"{tenant.url}/oauth/token"


async def post(
    client: httpx.AsyncClient,
    tenant: LiveServer,
    form: dict[str, str],
    proofs: list[str],
    public: bool = False,
) -> httpx.Response:
    headers = [("DPoP", proof) for proof in proofs]
    auth = httpx.USE_CLIENT_DEFAULT if public else httpx.BasicAuth(*WEB)
    return await client.post(token_url(tenant), data=form, headers=headers, auth=auth)


def code_form(code: str, **extra: str) -> dict[str, str]:
    return {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK, **extra}


def refresh_form(refresh_token: str, **extra: str) -> dict[str, str]:
    return {"grant_type": "refresh_token", "refresh_token": refresh_token, **extra}


def jkt_of(body: dict[str, Any]) -> str | None:
    cnf = jwt.get_unverified_claims(body["access_token"]).get("cnf")
    return cnf["jkt"] if cnf else None


async def test_discovery_advertises_dpop_algorithms(
    tenant: LiveServer, client: httpx.AsyncClient
) -> None:
    response = await client.get(f"{tenant.url}/.well-known/openid-configuration")
    assert "ES256" in response.json()["dpop_signing_alg_values_supported"]


async def test_web_client_gets_bound_tokens_and_may_refresh_under_a_new_key(
    tenant: LiveServer, client: httpx.AsyncClient
) -> None:
    code = await login_code(client, tenant)
    proof = KEY.proof("POST", token_url(tenant))
    response = await post(client, tenant, code_form(code), [proof])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "DPoP"
    assert jkt_of(body) == KEY.thumbprint
    # A confidential client's refresh token is not bound (it authenticates anyway).
    new_key = DpopKey.generate()
    proof = new_key.proof("POST", token_url(tenant))
    refreshed = (await post(client, tenant, refresh_form(body["refresh_token"]), [proof])).json()
    assert (refreshed["token_type"], jkt_of(refreshed)) == ("DPoP", new_key.thumbprint)
    bearer = (await post(client, tenant, refresh_form(refreshed["refresh_token"]), [])).json()
    assert (bearer["token_type"], jkt_of(bearer)) == ("Bearer", None)


async def test_public_client_refresh_token_is_bound_to_the_key(
    tenant: LiveServer, client: httpx.AsyncClient
) -> None:
    code, verifier = await spa_code(client, tenant)
    form = code_form(code, client_id=SPA, code_verifier=verifier)
    body = (await post(client, tenant, form, [KEY.proof("POST", token_url(tenant))], True)).json()
    assert jkt_of(body) == KEY.thumbprint
    again = refresh_form(body["refresh_token"], client_id=SPA)
    without = await post(client, tenant, again, [], public=True)
    assert (without.status_code, without.json()["error"]) == (400, "invalid_dpop_proof")
    thief = DpopKey.generate().proof("POST", token_url(tenant))
    stolen = await post(client, tenant, again, [thief], public=True)
    assert (stolen.status_code, stolen.json()["error"]) == (400, "invalid_grant")
    owner = await post(client, tenant, again, [KEY.proof("POST", token_url(tenant))], True)
    assert owner.status_code == 200, owner.text
    assert jkt_of(owner.json()) == KEY.thumbprint


BROKEN: dict[str, dict[str, Any]] = {
    "htm-get": {"htm": "GET"},
    "htu-other": {"htu": "http://evil.example/oauth/token"},
    "iat-old": {"iat": 1},
    "jti-missing": {"jti": None},
    "typ-jwt": {"header": {"typ": "JWT"}},
    "jwk-private": {"header": {"jwk": KEY.private_jwk}},
    "jwk-missing": {"header": {"jwk": None}},
}


@pytest.mark.parametrize("name", list(BROKEN))
async def test_broken_proof_is_refused_and_the_code_survives(
    tenant: LiveServer, client: httpx.AsyncClient, name: str
) -> None:
    code = await login_code(client, tenant)
    overrides = dict(BROKEN[name])
    proof = KEY.proof("POST", token_url(tenant), header=overrides.pop("header", {}), **overrides)
    response = await post(client, tenant, code_form(code), [proof])
    assert (response.status_code, response.json()["error"]) == (400, "invalid_dpop_proof")
    retry = await post(client, tenant, code_form(code), [KEY.proof("POST", token_url(tenant))])
    assert retry.status_code == 200, retry.text


async def test_replayed_or_doubled_proof_is_refused(
    tenant: LiveServer, client: httpx.AsyncClient
) -> None:
    proof = KEY.proof("POST", token_url(tenant))
    first = await post(client, tenant, code_form(await login_code(client, tenant)), [proof])
    assert first.status_code == 200, first.text
    replay = await post(client, tenant, code_form(await login_code(client, tenant)), [proof])
    assert replay.json()["error"] == "invalid_dpop_proof"
    two = [KEY.proof("POST", token_url(tenant)) for _ in range(2)]
    doubled = await post(client, tenant, code_form(await login_code(client, tenant)), two)
    assert doubled.json()["error"] == "invalid_dpop_proof"


@pytest.mark.parametrize(
    "header",
    [
        {"alg": ["ES256"]},
        {"jwk": {}},
        {"jwk": {"kty": ["EC"]}},
        {"jwk": {"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}},
        {"jwk": {"kty": "oct", "k": "c2VjcmV0c2VjcmV0c2VjcmV0"}},
    ],
    ids=["alg-list", "jwk-empty", "kty-list", "ec-off-curve", "symmetric"],
)
async def test_odd_proof_headers_are_400_never_500(
    tenant: LiveServer, client: httpx.AsyncClient, header: dict[str, Any]
) -> None:
    code = await login_code(client, tenant)
    head = {"typ": "dpop+jwt", "alg": "ES256", "jwk": KEY.public_jwk, **header}
    proof = f"{segment(head)}.{segment(KEY.claims('POST', token_url(tenant), None))}.{'A' * 86}"
    response = await post(client, tenant, code_form(code), [proof])
    assert (response.status_code, response.json()["error"]) == (400, "invalid_dpop_proof")
