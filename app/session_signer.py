"""The session cookie's signature: itsdangerous's TimestampSigner, checked at its real cost.

The cookie is `<session id>.<timestamp>.<HMAC-SHA1>` as itsdangerous's TimestampSigner
writes it (salted, its default key derivation), and stays so: cookies signed by any
earlier release verify.  Checking one with the plain TimestampSigner took some 7 µs on
every request, most of it spent again on the same answer:

- it derives the key (a digest of salt and secret) anew for each cookie: done once here;
- its default digest is SHA-1 behind a Python function (so that importing it cannot fail
  on a FIPS system), which sends each HMAC down the standard library's pure-Python path;
  hashlib's own sha1 (the same SHA-1) takes OpenSSL's;
- a browser sends the same cookie on every request: a cookie verified lately is looked
  up instead (by its whole text, signature included, so only a cookie this process has
  verified can match), and only its age is checked again, by itsdangerous's rule.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

from itsdangerous import BadSignature, TimestampSigner
from itsdangerous.encoding import want_bytes

# Cookies verified lately that are remembered (a few hundred bytes each), least recently
# used forgotten first.
RECENT_COOKIES = 256


class SessionSigner(TimestampSigner):
    """Signs session ids, and gives the id in a cookie (see the module's docstring)."""

    def __init__(self, secret: str, salt: str, max_age: int) -> None:
        super().__init__(secret, salt=salt, digest_method=hashlib.sha1)
        self.max_age = max_age
        self._derived: dict[bytes, bytes] = {}
        for key in self.secret_keys:
            self._derived[key] = super().derive_key(key)
        # cookie -> (session id, when it was signed as Unix time)
        self._recent: OrderedDict[str, tuple[str, int]] = OrderedDict()

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        key = self.secret_keys[-1] if secret_key is None else want_bytes(secret_key)
        derived = self._derived.get(key)
        return super().derive_key(key) if derived is None else derived

    def session_id(self, cookie: str) -> str | None:
        """The session id `cookie` carries; None when its signature is bad or too old."""
        recent = self._recent.get(cookie)
        if recent is not None:
            if 0 <= self.get_timestamp() - recent[1] <= self.max_age:  # itsdangerous's rule
                self._recent.move_to_end(cookie)
                return recent[0]
            del self._recent[cookie]
        try:
            value, signed = self.unsign(cookie, max_age=self.max_age, return_timestamp=True)
            sid = value.decode()
        except (BadSignature, UnicodeDecodeError):
            return None
        self._recent[cookie] = (sid, int(signed.timestamp()))
        while len(self._recent) > RECENT_COOKIES:
            self._recent.popitem(last=False)
        return sid
