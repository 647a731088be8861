"""A bounded memory of the DPoP proofs already accepted (RFC 9449 §11.1).

A proof is accepted only while its `iat` lies inside the acceptance window, so each
proof id needs remembering only until its `iat` leaves the window: the cache is bounded
in time by that, and in size by `max_entries` (32-byte digests, oldest first).

When a flood fills the cache, the oldest entry is forgotten and its `iat` becomes the
*floor*: from then on a proof issued at or before the floor is refused, because it might
be the replay of a forgotten one.  Honest clients make a fresh proof per request (`iat` =
now), so they only notice if the cache turns over within one second.  The floor never
moves past the current time, so proofs dated in the future cannot lock everyone out.

The memory is per process: run one API process per replay domain (or share a store).
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable


class ReplayCache:
    """Remembers (key thumbprint, jti) pairs; `first_use` is False for a replay."""

    def __init__(
        self, *, window: float, max_entries: int, clock: Callable[[], float] = time.time
    ) -> None:
        self._window = window
        self._max_entries = max_entries
        self._clock = clock
        self._seen: OrderedDict[bytes, float] = OrderedDict()  # digest -> the proof's iat
        self._floor = float("-inf")

    def __len__(self) -> int:
        return len(self._seen)

    def first_use(self, jkt: str, jti: str, iat: float) -> bool:
        """Record the proof; False when it was seen before or may have been forgotten."""
        now = self._clock()
        self._expire(now)
        digest = hashlib.sha256(f"{jkt}\n{jti}".encode()).digest()
        if iat <= self._floor or digest in self._seen:
            return False
        self._seen[digest] = iat
        if len(self._seen) > self._max_entries:
            _, forgotten = self._seen.popitem(last=False)
            self._floor = max(self._floor, min(forgotten, now))
        return True

    def _expire(self, now: float) -> None:
        # Entries are roughly in iat order; stop at the first still inside the window.
        while self._seen:
            digest, iat = next(iter(self._seen.items()))
            if iat + self._window >= now:
                return
            del self._seen[digest]
