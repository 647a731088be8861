"""Signing keys: published ahead of use, rotated from the command line, kept until expiry."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
from jose import jwt

from devtenant import keys
from testing.servers import LiveServer
from tests.devtenant.helpers import API, tokens, verify_token

REPO = Path(__file__).resolve().parents[2]


def rotate_keys(data_dir: Path, cwd: Path) -> None:
    env = {**os.environ, "DEVTENANT_DATA_DIR": str(data_dir), "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-m", "devtenant", "rotate-keys"], check=True, env=env, cwd=cwd)


async def kids(client: httpx.AsyncClient, tenant: LiveServer) -> list[str]:
    jwks = (await client.get(f"{tenant.url}/.well-known/jwks.json")).json()
    assert all("d" not in key and "p" not in key for key in jwks["keys"])  # public only
    return [key["kid"] for key in jwks["keys"]]


async def test_rotate_keys_publishes_then_signs_with_the_next_key(
    tenant: LiveServer, client: httpx.AsyncClient, data_dir: Path, tmp_path: Path
) -> None:
    old_token = (await tokens(client, tenant))["access_token"]
    old_kid = jwt.get_unverified_header(old_token)["kid"]
    before = await kids(client, tenant)
    assert old_kid in before
    assert len(before) == 2  # the current key and the next one, published ahead of use
    next_kid = next(kid for kid in before if kid != old_kid)

    rotate_keys(data_dir, tmp_path)

    after = await kids(client, tenant)
    assert {old_kid, next_kid} <= set(after)
    new_token = (await tokens(client, tenant))["access_token"]
    assert jwt.get_unverified_header(new_token)["kid"] == next_kid
    assert (await verify_token(client, tenant, new_token, API))["aud"][0] == API
    assert (await verify_token(client, tenant, old_token, API))["aud"][0] == API


def test_previous_key_leaves_the_jwks_once_its_tokens_expired(tmp_path: Path) -> None:
    first = keys.KeyRing(tmp_path).current_kid
    keys.rotate(tmp_path, keep_seconds=60, now=1_000)
    ring = keys.KeyRing(tmp_path)
    assert first in [k["kid"] for k in ring.jwks(now=1_059)["keys"]]
    assert first not in [k["kid"] for k in ring.jwks(now=1_061)["keys"]]


def test_keys_survive_a_restart(tmp_path: Path) -> None:
    assert keys.KeyRing(tmp_path).current_kid == keys.KeyRing(tmp_path).current_kid
