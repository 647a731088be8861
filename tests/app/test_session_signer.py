"""The session cookie's signer: the very format and signatures of itsdangerous's
TimestampSigner (cookies signed before stay valid), and a cache of verified cookies that
accepts nothing a full check would refuse."""

from __future__ import annotations

import pytest
from itsdangerous import TimestampSigner

from app.session_middleware import SESSION_SALT
from app.session_signer import RECENT_COOKIES, SessionSigner

SECRET = "test-session-secret"
SID = "Zm9yLXRoZS1zaWduZXItdGVzdC1vbmx5LW5vdC1yZWFsLWlk"
# Signed on 2026-12-02 by the TimestampSigner the middleware used before SessionSigner.
LEGACY_COOKIE = f"{SID}.aw_TNA.ZoEw7n2T9WtGYI8TgpuWVRo-B4w"
LEGACY_SIGNED_AT = 1_796_199_220  # the timestamp inside it (aw_TNA)
HOUR = 60 * 60


def signer_at(now: int, max_age: int = HOUR) -> SessionSigner:
    """A SessionSigner whose clock reads `now` (Unix time) until moved."""
    signer = SessionSigner(SECRET, SESSION_SALT, max_age)
    signer.get_timestamp = lambda: now  # type: ignore[method-assign]
    return signer


def move_clock(signer: SessionSigner, now: int) -> None:
    signer.get_timestamp = lambda: now  # type: ignore[method-assign]


def test_a_cookie_signed_before_the_change_still_verifies() -> None:
    signer = signer_at(LEGACY_SIGNED_AT + 10)
    assert signer.session_id(LEGACY_COOKIE) == SID
    assert signer.session_id(LEGACY_COOKIE) == SID  # and again, from the cache


def test_signatures_are_those_of_itsdangerous_timestamp_signer() -> None:
    plain = TimestampSigner(SECRET, salt=SESSION_SALT)
    ours = SessionSigner(SECRET, SESSION_SALT, HOUR)
    for value in (SID, "x", "a.b"):
        assert ours.get_signature(value) == plain.get_signature(value)
    assert plain.unsign(ours.sign(SID), max_age=HOUR) == SID.encode()
    assert ours.session_id(plain.sign(SID).decode()) == SID


@pytest.mark.parametrize(
    "forged",
    [
        pytest.param(LEGACY_COOKIE[:-1] + "A", id="signature"),
        pytest.param("A" + LEGACY_COOKIE[1:], id="id"),
        pytest.param(LEGACY_COOKIE.replace(".aw_TNA.", ".aw_TNB."), id="timestamp"),
        pytest.param(SID, id="unsigned"),
        pytest.param(
            TimestampSigner("other-secret", salt=SESSION_SALT).sign(SID).decode(), id="other-key"
        ),
        pytest.param(TimestampSigner(SECRET, salt="other").sign(SID).decode(), id="other-salt"),
        pytest.param("", id="empty"),
    ],
)
def test_forged_cookies_are_refused_even_next_to_a_cached_good_one(forged: str) -> None:
    signer = signer_at(LEGACY_SIGNED_AT + 10)
    assert signer.session_id(LEGACY_COOKIE) == SID  # the good one is cached now
    assert signer.session_id(forged) is None
    assert signer.session_id(forged) is None
    assert forged not in signer._recent


def test_a_cached_cookie_expires_at_the_same_age_as_a_checked_one() -> None:
    signer = signer_at(LEGACY_SIGNED_AT)
    assert signer.session_id(LEGACY_COOKIE) == SID
    move_clock(signer, LEGACY_SIGNED_AT + HOUR)
    assert signer.session_id(LEGACY_COOKIE) == SID  # exactly max_age old: still valid
    move_clock(signer, LEGACY_SIGNED_AT + HOUR + 1)
    assert signer.session_id(LEGACY_COOKIE) is None
    assert LEGACY_COOKIE not in signer._recent
    fresh = signer_at(LEGACY_SIGNED_AT + HOUR + 1)  # the full check agrees
    assert fresh.session_id(LEGACY_COOKIE) is None


def test_a_cookie_from_the_future_is_refused_cached_or_not() -> None:
    signer = signer_at(LEGACY_SIGNED_AT)
    assert signer.session_id(LEGACY_COOKIE) == SID
    move_clock(signer, LEGACY_SIGNED_AT - 1)  # the clock was stepped back
    assert signer.session_id(LEGACY_COOKIE) is None
    assert signer_at(LEGACY_SIGNED_AT - 1).session_id(LEGACY_COOKIE) is None


def test_the_cache_of_verified_cookies_is_bounded() -> None:
    signer = SessionSigner(SECRET, SESSION_SALT, HOUR)
    cookies = [signer.sign(f"session-{i}").decode() for i in range(RECENT_COOKIES + 50)]
    for i, cookie in enumerate(cookies):
        assert signer.session_id(cookie) == f"session-{i}"
    assert len(signer._recent) == RECENT_COOKIES
    assert cookies[0] not in signer._recent  # the least recently used went first
    assert signer.session_id(cookies[0]) == "session-0"  # and is simply checked again
