"""Refresh-token families survive a restart, with rotation, reuse detection and expiry intact,
and the data file holds only digests of refresh tokens."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devtenant.grants import digest
from devtenant.json_files import read_json, reset, write_json
from devtenant.refresh_families import GRANTS_FILE, FamilyStore, RefreshFamily
from testing.servers import LiveServer
from testing.tenant import start_tenant
from tests.devtenant.helpers import APP, refresh, tokens

LIFETIME = 3600


@pytest.fixture
def restartable(data_dir: Path) -> Iterator[LiveServer]:
    server = start_tenant(data_dir, [APP])
    yield server
    server.stop()


def restart(tenant: LiveServer) -> None:
    tenant.stop()
    tenant.start()


async def test_a_refresh_token_still_refreshes_after_a_restart(
    restartable: LiveServer, client: httpx.AsyncClient
) -> None:
    issued = (await tokens(client, restartable))["refresh_token"]
    restart(restartable)
    response = await refresh(client, restartable, issued)
    assert response.status_code == 200, response.text
    assert response.json()["refresh_token"] != issued


async def test_rotation_and_reuse_detection_work_across_a_restart(
    restartable: LiveServer, client: httpx.AsyncClient
) -> None:
    first = (await tokens(client, restartable))["refresh_token"]
    restart(restartable)
    rotated = await refresh(client, restartable, first)
    assert rotated.status_code == 200
    second = rotated.json()["refresh_token"]
    reuse = await refresh(client, restartable, first)  # rotated after the restart
    assert reuse.json()["error"] == "invalid_grant"
    assert (await refresh(client, restartable, second)).json()["error"] == "invalid_grant"
    restart(restartable)
    revoked = await refresh(client, restartable, second)  # the revocation was kept too
    assert revoked.json()["error"] == "invalid_grant"


async def test_the_data_file_holds_digests_not_refresh_tokens(
    restartable: LiveServer, client: httpx.AsyncClient, data_dir: Path
) -> None:
    first = (await tokens(client, restartable))["refresh_token"]
    second = (await refresh(client, restartable, first)).json()["refresh_token"]
    text = (data_dir / GRANTS_FILE).read_text()
    for token in (first, second):
        assert token not in text
        assert digest(token) in text
    assert (data_dir / GRANTS_FILE).stat().st_mode & 0o077 == 0


async def test_reset_forgets_refresh_tokens(
    restartable: LiveServer, client: httpx.AsyncClient, data_dir: Path
) -> None:
    issued = (await tokens(client, restartable))["refresh_token"]
    restartable.stop()
    reset(data_dir)  # what `python -m devtenant --reset` does before starting
    restartable.start()
    response = await refresh(client, restartable, issued)
    assert response.json()["error"] == "invalid_grant"


def family(family_id: str, expires_at: float, token: str) -> RefreshFamily:
    return RefreshFamily(
        family_id=family_id,
        client_id="quickstart-web",
        user_id="auth0|alice",
        scopes=["openid", "offline_access"],
        audience=None,
        sid="sid",
        auth_time=0,
        nonce=None,
        expires_at=expires_at,
        current=digest(token),
        issued={digest(token)},
    )


def test_expired_and_malformed_families_are_dropped_on_load(tmp_path: Path) -> None:
    now = time.time()
    live = family("live", now + LIFETIME, "live-token")
    expired = family("expired", now - 1, "expired-token")
    not_a_family = {"family_id": "x", "unexpected": True}
    document = {"families": [live.to_json(), expired.to_json(), not_a_family, "junk"]}
    write_json(tmp_path / GRANTS_FILE, document)
    store = FamilyStore(tmp_path, LIFETIME)
    assert store.of_token(digest("live-token")) == live
    assert store.of_token(digest("expired-token")) is None
    assert store.get("x") is None


async def test_a_save_prunes_expired_families_and_skips_when_unchanged(tmp_path: Path) -> None:
    store = FamilyStore(tmp_path, LIFETIME)
    await store.save()
    assert not (tmp_path / GRANTS_FILE).exists()  # nothing changed, nothing written
    old = family("old", 0, "old-token")
    store.start(old)
    old.expires_at = time.time() - 1  # its lifetime ran out while the tenant was running
    store.start(family("new", 0, "new-token"))
    await store.save()
    saved = read_json(tmp_path / GRANTS_FILE)["families"]
    assert [item["family_id"] for item in saved] == ["new"]
    assert saved[0]["expires_at"] > time.time()
