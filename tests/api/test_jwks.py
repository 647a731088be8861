"""Discovery and JWKS caching, key rotation, and issuer outages, watched from outside."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from api.main import create_app
from testing.issuer import SigningKey, TestIssuer
from testing.servers import LiveServer
from tests.api.conftest import RETRY_AFTER, settings_for

PRIVATE = "/api/private"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_keys_are_fetched_once_for_many_requests(
    client: httpx.AsyncClient, issuer: TestIssuer
) -> None:
    tokens = [issuer.token(jti=str(n)) for n in range(20)]
    for token in tokens:
        assert (await client.get(PRIVATE, headers=bearer(token))).status_code == 200
    assert issuer.fetches == {"discovery": 1, "jwks": 1}


async def test_flood_of_unknown_kids_causes_no_fetch_within_cooldown(
    client: httpx.AsyncClient, issuer: TestIssuer
) -> None:
    assert (await client.get(PRIVATE, headers=bearer(issuer.token()))).status_code == 200
    stranger = SigningKey.generate()
    for n in range(50):
        token = issuer.sign(issuer.claims(), stranger, headers={"kid": f"random-{n}"})
        response = await client.get(PRIVATE, headers=bearer(token))
        assert response.status_code == 401
    assert issuer.fetches["jwks"] == 1


async def test_key_rotation_old_and_new_keys(issuer: TestIssuer) -> None:
    with LiveServer(create_app(settings_for(issuer, jwks_cooldown=0))) as api:
        async with httpx.AsyncClient(base_url=api.url) as client:
            old_token = issuer.token()
            assert (await client.get(PRIVATE, headers=bearer(old_token))).status_code == 200

            issuer.rotate(keep_old=True)
            new_token = issuer.token()
            assert (await client.get(PRIVATE, headers=bearer(new_token))).status_code == 200
            assert issuer.fetches["jwks"] == 2  # the unknown kid caused exactly one refetch
            assert (await client.get(PRIVATE, headers=bearer(old_token))).status_code == 200

            issuer.rotate(keep_old=False)  # the old keys are withdrawn
            newest = issuer.token()
            assert (await client.get(PRIVATE, headers=bearer(newest))).status_code == 200
            assert issuer.fetches["jwks"] == 3
            # Even though old_token passed before, it is checked again once its key is gone.
            assert (await client.get(PRIVATE, headers=bearer(old_token))).status_code == 401
            assert (await client.get(PRIVATE, headers=bearer(new_token))).status_code == 401


async def test_concurrent_requests_with_a_new_kid_cause_one_fetch(issuer: TestIssuer) -> None:
    with LiveServer(create_app(settings_for(issuer, jwks_cooldown=0.2))) as api:
        limits = httpx.Limits(max_connections=200)
        async with httpx.AsyncClient(base_url=api.url, limits=limits, timeout=30) as client:
            assert (await client.get(PRIVATE, headers=bearer(issuer.token()))).status_code == 200
            await asyncio.sleep(0.3)  # past the cooldown, so the new kid may trigger a fetch
            issuer.rotate()
            tokens = [issuer.token(jti=str(n)) for n in range(200)]
            responses = await asyncio.gather(
                *(client.get(PRIVATE, headers=bearer(token)) for token in tokens)
            )
    assert [r.status_code for r in responses] == [200] * 200
    assert issuer.fetches["jwks"] == 2


async def test_jwks_down_is_503_with_retry_after_then_recovers(
    client: httpx.AsyncClient, issuer: TestIssuer
) -> None:
    issuer.failing = True
    response = await client.get(PRIVATE, headers=bearer(issuer.token()))
    assert response.status_code == 503
    assert response.headers["retry-after"] == str(RETRY_AFTER)
    assert response.json()["error"] == "temporarily_unavailable"

    issuer.failing = False
    await asyncio.sleep(RETRY_AFTER + 0.1)
    assert (await client.get(PRIVATE, headers=bearer(issuer.token()))).status_code == 200


# Long enough that the ten requests below always fit in one back-off, however loaded the
# machine is: the test counts fetches, it does not time anything.
LONG_BACKOFF = 60


async def test_no_refetch_storm_while_backing_off(issuer: TestIssuer) -> None:
    issuer.failing = True
    with LiveServer(create_app(settings_for(issuer, issuer_retry_after=LONG_BACKOFF))) as api:
        async with httpx.AsyncClient(base_url=api.url) as client:
            first = await client.get(PRIVATE, headers=bearer(issuer.token()))
            fetches_during_outage = sum(issuer.fetches.values())
            for _ in range(10):
                response = await client.get(PRIVATE, headers=bearer(issuer.token()))
                assert response.status_code == 503
    assert first.status_code == 503
    assert sum(issuer.fetches.values()) == fetches_during_outage


async def test_issuer_down_entirely_is_503(issuer: TestIssuer) -> None:
    dead = TestIssuer()
    dead.serve_at("http://127.0.0.1:9/")  # nothing listens on the discard port
    with LiveServer(create_app(settings_for(dead))) as api:
        async with httpx.AsyncClient(base_url=api.url) as client:
            response = await client.get(PRIVATE, headers=bearer(dead.token()))
    assert response.status_code == 503
    assert "127.0.0.1:9" not in response.text  # no internals in the error


async def test_discovery_naming_another_issuer_is_refused(issuer: TestIssuer) -> None:
    issuer.advertised_issuer = "https://evil.test/"
    with LiveServer(create_app(settings_for(issuer))) as api:
        async with httpx.AsyncClient(base_url=api.url) as client:
            response = await client.get(PRIVATE, headers=bearer(issuer.token()))
    assert response.status_code == 503
    assert issuer.fetches["jwks"] == 0


async def test_keys_and_discovery_expire_after_max_age(issuer: TestIssuer) -> None:
    issuer.discovery_max_age = 0  # discovery says: do not cache me
    with LiveServer(create_app(settings_for(issuer, cache_max_age=1))) as api:
        async with httpx.AsyncClient(base_url=api.url) as client:
            assert (await client.get(PRIVATE, headers=bearer(issuer.token()))).status_code == 200
            assert (await client.get(PRIVATE, headers=bearer(issuer.token()))).status_code == 200
            assert issuer.fetches == {"discovery": 1, "jwks": 1}
            await asyncio.sleep(1.1)
            assert (await client.get(PRIVATE, headers=bearer(issuer.token()))).status_code == 200
    assert issuer.fetches == {"discovery": 2, "jwks": 2}


@pytest.mark.parametrize(
    ("configured_slash", "discovered_slash"),
    [(True, True), (True, False), (False, True), (False, False)],
    ids=["both-slash", "keycloak-style-discovery", "configured-without-slash", "neither"],
)
async def test_issuer_is_compared_up_to_a_trailing_slash_then_exactly(
    configured_slash: bool, discovered_slash: bool
) -> None:
    """Discovery is accepted when its issuer is the configured one up to a trailing slash;
    tokens must then carry the discovered issuer exactly, not the other spelling."""
    issuer = TestIssuer()
    with LiveServer(issuer.app) as server:
        issuer.serve_at(server.url, trailing_slash=discovered_slash)
        configured = server.url + ("/" if configured_slash else "")
        other_spelling = issuer.base if discovered_slash else f"{issuer.base}/"
        with LiveServer(create_app(settings_for(issuer, auth0_issuer_base_url=configured))) as api:
            async with httpx.AsyncClient(base_url=api.url) as client:
                good = await client.get(PRIVATE, headers=bearer(issuer.token()))
                respelled = await client.get(
                    PRIVATE, headers=bearer(issuer.token(iss=other_spelling))
                )
    assert good.status_code == 200, good.text
    assert respelled.status_code == 401
    assert respelled.json()["error"] == "invalid_token"
    assert issuer.fetches == {"discovery": 1, "jwks": 1}
