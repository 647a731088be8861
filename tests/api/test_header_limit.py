"""The API's request-header cap (api/header_limit.py), over real HTTP."""

from __future__ import annotations

import httpx
import pytest

from testing.issuer import TestIssuer


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"Authorization": "Bearer " + "a" * 200_000}, id="200KB-authorization"),
        pytest.param({f"X-Pad-{n}": "a" * 1000 for n in range(17)}, id="many-small-headers"),
    ],
)
async def test_request_head_over_16kb_is_431(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.get("/api/private", headers=headers)
    assert response.status_code == 431
    assert response.json()["error"] == "request_header_fields_too_large"
    assert "www-authenticate" not in response.headers  # never got as far as the token
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_request_head_under_16kb_is_served(
    client: httpx.AsyncClient, issuer: TestIssuer
) -> None:
    headers = {"X-Pad": "a" * 14_000, "Authorization": f"Bearer {issuer.token()}"}
    assert (await client.get("/api/private", headers=headers)).status_code == 200
