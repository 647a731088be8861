"""A session record as the memory store holds it: its JWTs taken apart, then deflated.

Most of a logged-in record is two JWTs (the access token, and the ID token kept for
logout's id_token_hint), whose header and payload are base64url text of JSON.  Deflate
gets little out of base64, and cannot see that the ID token's payload repeats the `user`
claims beside it.  So each JWT in the record is held as its header and payload decoded
(the JSON bytes the tenant signed) and its signature as it is, next to the record with the
JWT's place left empty: deflate then keeps the claims about once.  A string is taken apart
only when putting the parts back together gives the very same string, so every record
reads back exactly as it was saved.  A real record: 2,623 bytes of JSON, 1,558 deflated
as it is, 1,160 taken apart first.

The layout before deflating: `<length>:` and that many bytes of JSON, `[record, places]`,
where each place is the list of keys leading to a JWT and the sizes of its header and
payload; then, per JWT, its header, payload and signature (base64url, which holds no `.`)
followed by `.`.  Records live and die with the process: the layout may change in any
release.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import zlib
from typing import Any

from app.session_store import SessionRecord

# zlib's fastest level: most of the gain for tens of microseconds per save; a load (every
# request with a session) inflates in a few.
COMPRESSION_LEVEL = 1
# zlib's preset dictionary: strings most records hold (the keys the app and Authlib write,
# standard claim names), so even their first occurrence in a record compresses.  A wrong
# guess costs only some ratio.
RECORD_DICTIONARY = json.dumps(
    [
        "_state_",
        "return_to",
        "code_verifier",
        "redirect_uri",
        "nonce",
        "name",
        "nickname",
        "picture",
        "updated_at",
        "email_verified",
        "email",
        "iss",
        "aud",
        "iat",
        "exp",
        "auth_time",
        "_csrf_token",
        "_created",
        "_seen",
        "refresh_token",
        "id_token",
        "tokens",
        "access_token",
        "token_type",
        "Bearer",
        "expires_at",
        "scope",
        "openid profile email offline_access",
        "audience",
        "https://",
        "user",
        "sub",
        "auth0|",
        '{"alg":"RS256","typ":"JWT","kid":"',
    ],
    separators=(",", ":"),
).encode()
# A compact JWS whose header is a JSON object ("eyJ" is base64url of '{"').
JWT_SHAPE = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")

Jwt = tuple[list[str], bytes, bytes, bytes]


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _jwt_parts(value: str) -> tuple[bytes, bytes, bytes] | None:
    """Header, payload and signature of a JWT that they give back exactly; else None."""
    if not JWT_SHAPE.fullmatch(value):
        return None
    header, payload, signature = value.split(".")
    try:
        parts = _b64decode(header), _b64decode(payload)
    except (binascii.Error, ValueError):
        return None
    if (_b64encode(parts[0]), _b64encode(parts[1])) != (header, payload):
        return None  # not canonical base64url: keep the string as it is
    return parts[0], parts[1], signature.encode()


def _take_apart(data: dict[str, Any], path: list[str], jwts: list[Jwt]) -> dict[str, Any]:
    """`data` with each JWT in it (in nested dicts too) replaced by "", and its parts
    appended to `jwts`."""
    kept: dict[str, Any] = {}
    for key, value in data.items():
        parts = _jwt_parts(value) if isinstance(value, str) else None
        if parts is not None:
            jwts.append(([*path, key], *parts))
            value = ""
        elif isinstance(value, dict):
            value = _take_apart(value, [*path, key], jwts)
        kept[key] = value
    return kept


def pack(record: SessionRecord) -> bytes:
    """The bytes the memory store holds for `record` (see the module's docstring)."""
    jwts: list[Jwt] = []
    kept = _take_apart(record, [], jwts)
    places = [[path, len(header), len(payload)] for path, header, payload, _ in jwts]
    head = json.dumps([kept, places], separators=(",", ":")).encode()
    compressor = zlib.compressobj(COMPRESSION_LEVEL, zdict=RECORD_DICTIONARY)
    layout = [b"%d:" % len(head), head, *(b"".join(jwt[1:]) + b"." for jwt in jwts)]
    return compressor.compress(b"".join(layout)) + compressor.flush()


def unpack(held: bytes) -> SessionRecord | None:
    """The record `pack` made `held` from; None if `held` is not such bytes."""
    try:
        layout = zlib.decompressobj(zdict=RECORD_DICTIONARY).decompress(held)
        length, _, rest = layout.partition(b":")
        at = int(length)
        record, places = json.loads(rest[:at])
        for path, header_size, payload_size in places:
            *parents, key = path
            place = record
            for parent in parents:
                place = place[parent]
            payload_at = at + header_size
            signature_at = payload_at + payload_size
            end = rest.index(b".", signature_at)
            place[key] = ".".join(
                (
                    _b64encode(rest[at:payload_at]),
                    _b64encode(rest[payload_at:signature_at]),
                    rest[signature_at:end].decode(),
                )
            )
            at = end + 1
    except (zlib.error, ValueError, IndexError, KeyError, TypeError):
        return None
    return record if isinstance(record, dict) else None
