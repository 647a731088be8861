"""DPoP load for wrk: a fresh proof on every request, as a real client sends them.

Our API refuses a proof it has seen (RFC 9449 §11.1), so one proof cannot be sent over
and over.  Proofs are signed ahead of each run (ES256, for one URL and token) into one
file per wrk thread; `proofs.lua` sends the next line as the `DPoP` header of each request.
If a run outlasts its pool the script starts over, and our API's 400s for the replays show
up as errors in the table: raise PROOFS_PER_SECOND then.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from tempfile import TemporaryDirectory

from testing.dpop import DpopKey

LUA_SCRIPT = Path(__file__).with_name("proofs.lua")
PROOFS_PER_SECOND = 4_000  # per run: above what either server answers on two cores


@contextmanager
def proof_pool(
    key: DpopKey, url: str, token: str, duration: float, threads: int
) -> Iterator[list[str]]:
    """The script arguments (the pool's file prefix) for a wrk run of `duration` seconds
    with `threads` threads; use with `run_wrk(..., script=LUA_SCRIPT, script_args=...)`."""
    per_thread = int(PROOFS_PER_SECOND * max(1.0, duration) / threads) + 1
    with TemporaryDirectory(prefix="dpop-proofs-") as directory:
        prefix = Path(directory) / "proofs"
        for thread in range(threads):
            lines = (key.proof("GET", url, token) for _ in range(per_thread))
            Path(f"{prefix}.{thread}").write_text("\n".join(lines) + "\n")
        yield [str(prefix)]
