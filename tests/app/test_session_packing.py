"""Packing a record for the memory store: every record reads back exactly, JWTs or not."""

from __future__ import annotations

import base64
import json
import random
import secrets
import zlib
from typing import Any

import pytest

from app.session_packing import pack, unpack
from app.session_store import encode_record
from testing.live_stack import LiveStack
from testing.sessions import session_record


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def jwt(claims: dict[str, Any]) -> str:
    signature = base64.urlsafe_b64encode(secrets.token_bytes(256)).rstrip(b"=").decode()
    return f"{b64({'alg': 'RS256', 'typ': 'JWT', 'kid': 'k1'})}.{b64(claims)}.{signature}"


CLAIMS = {
    "sub": "auth0|0123456789abcdef01234567",
    "name": "Alice Example",
    "email": "alice@example.com",
    "iss": "https://tenant.example.com/",
    "aud": "client",
}


def logged_in_record() -> dict[str, Any]:
    access = jwt({**CLAIMS, "aud": ["https://api"], "scope": "openid read:messages"})
    return {
        "user": CLAIMS,
        "id_token": jwt({**CLAIMS, "nonce": "n"}),
        "tokens": {"https://api openid": {"access_token": access, "expires_at": 1.5}},
        "refresh_token": secrets.token_urlsafe(32),
        "_csrf_token": secrets.token_urlsafe(32),
    }


def test_a_logged_in_record_reads_back_exactly_and_smaller_than_deflated_json() -> None:
    record = logged_in_record()
    held = pack(record)
    assert unpack(held) == record
    # Smaller than the record's JSON deflated as it is (a real record: 1,558 -> ~1,160).
    assert len(held) < len(zlib.compress(encode_record(record), 1))


async def test_a_real_login_record_reads_back_exactly_in_under_half_its_json(
    stack: LiveStack,
) -> None:
    async with stack.client() as client:
        await stack.login(client)
        record = await session_record(stack, client)
    assert record["id_token"].count(".") == 2  # both JWTs are there to take apart
    assert unpack(pack(record)) == record
    # 2,623 bytes of JSON held as about 1,160 (deflated as JSON alone: 1,558).
    assert len(pack(record)) < 0.5 * len(encode_record(record))


@pytest.mark.parametrize(
    "value",
    [
        "eyJhIjoxfQ.eyJhIjoxfR.sig",  # payload not canonical base64url (stray bits)
        "eyJhIjoxfQ.eyJhIjoxfQ.sig=",  # padding in the signature
        "eyJhIjoxfQ==.eyJhIjoxfQ.sig",  # padded header
        "eyJhIjoxfQ.eyJhIjoxfQ.",  # no signature (alg none)
        "eyJhIjoxfQ..sig",  # empty payload
        "eyJ.eyJhIjoxfQ.sig",  # header of one base64 character too few
        "eyJhIjoxfQ.eyJhIjoxfQ.sig.extra",  # four parts
        "a.b.c",
        "alice@example.com",
        "eyJé.eyJhIjoxfQ.sig",
        "\ud800.eyJhIjoxfQ.s",  # a lone surrogate, as json.loads can produce
        "",
        "12:34:5",  # looks like the layout's own length prefixes
    ],
)
def test_strings_that_are_not_canonical_jwts_read_back_as_they_were(value: str) -> None:
    record = {"user": {"sub": "x", "claim": value}, "id_token": value, "n": [value, {"v": value}]}
    assert unpack(pack(record)) == record


def test_jwts_anywhere_in_nested_dicts_and_odd_keys_read_back() -> None:
    token = jwt(CLAIMS)
    record = {
        "a.b": {"1:x": {"": token, "[]": token}},
        "list": [token, {"in_list": token}],  # lists are kept as they are
        "": token,
        "unicode ü": "ü \u2028 \x00",
    }
    assert unpack(pack(record)) == record


def test_random_records_read_back_exactly() -> None:
    rng = random.Random(11)  # fixed: a failure is reproducible
    alphabet = "eyJ.-_=AZaz09é:\x00"

    def text() -> str:
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(12)))

    for _ in range(2000):
        token = jwt({"sub": text()}) if rng.random() < 0.3 else text()
        record = {text(): token, "nested": {text(): text(), "t": token}, "f": rng.random()}
        assert unpack(pack(record)) == record


@pytest.mark.parametrize("held", [b"", b"not deflated", zlib.compress(b"5:[1,2]")])
def test_bytes_pack_did_not_make_read_as_no_record(held: bytes) -> None:
    assert unpack(held) is None
