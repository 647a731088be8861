"""The one table `python -m bench` prints, and what we know about each shortfall.

The notes are findings from profiling these services on this repository's stack (py-spy on
the app under wrk, RSS and record sizes from `bench.memory`); each says why the figure falls
short and what would close it.  They are printed only for figures that do fall short.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

SHORTFALL_NOTES = {
    "api": (
        "API below 1.5x Express: a repeated token is a dictionary lookup (api/verify.py caches "
        "verified tokens until exp) and the routes skip FastAPI's dependency resolution "
        "(api/routing.py), so the API's own CPU is about 35-50 us a request (bench.layers); "
        "the rest is uvicorn and the kernel, which include writing our 17 response headers "
        "(~0.5 us each in uvicorn's checks) and parsing an 800-byte Authorization header.  "
        "What is left in process: Starlette/FastAPI's middleware stack and routing, then "
        "the access line (7-12 us), which stays as the API's only request log.  Closing "
        "it: one worker per core (`--workers 2`), which Express's one process cannot match."
    ),
    "public": (
        "/api/public below 0.9x a bare FastAPI route: in process our route costs less than "
        "the bare one (bench.layers: no dependency resolution, no serialization, one "
        "middleware layer), so the difference is on uvicorn's side: 13 more response "
        "headers for it to check and write (~7 us) and the access line (7-12 us).  Both "
        "are kept on purpose (helmet's headers, the request log)."
    ),
    "api_dpop": (
        "DPoP below Express: each request brings a new proof, so our API verifies an ES256 "
        "signature (OpenSSL through cryptography, ~85 us, about a third of the request's "
        "CPU) and records its jti, where Express's jose keeps no replay record.  Parsing "
        "is done once and keys are built once per client key (api/proof.py).  Closing it: "
        "one worker per core, with a shared replay store."
    ),
    "jwks": (
        "JWKS fetched more than once: the key cache was missed or expired during the run; "
        "check api/jwks.py's max-age and cooldown."
    ),
    "proxy": (
        "Proxy adds more than 1 ms: the proxied call costs the app about 0.2-0.3 ms of CPU "
        "(`python -m bench.proxy_cpu`; 0.8-1 ms before the plain ASGI endpoint), plus one more "
        "loopback hop, so a figure above 1 ms means the app's core was shared (other load "
        "on the machine) or something on the path grew.  What is left, by `bench.proxy_cpu "
        "--profile`: our transport and proxy (about a quarter each), the session (a sixth), "
        "the access line and FastAPI/Starlette's outer layers.  Closing more: a second app "
        "worker (`WEB_CONCURRENCY=2`) where there is a core to spare."
    ),
    "proxy_rps": (
        "Proxy throughput below half the direct path: the app is one single-threaded process "
        "and CPU-bound at 64 connections, while the direct path costs the API little (its "
        "verified-token cache).  On a 2-core machine the app takes one core and the API and "
        "wrk share the other, so a run while anything else works measures the sharing.  "
        "See the added-p50 note for where the app's CPU goes; `WEB_CONCURRENCY=2` gives the "
        "app a worker per core where there are cores to spare."
    ),
    "proxy_errors": "Proxy errors: the run measured failures, not latency; see the app's log.",
    "api_errors": "API errors: the run measured failures, not throughput.",
    "startup": (
        "Start-up over 2 s: three Python processes import FastAPI and pydantic (about 0.4 s "
        "of CPU each on a quiet core) plus python-jose and cryptography (API, tenant) at "
        "the same time on 2 cores, next to honcho itself.  Without byte-compiled packages "
        "(PYTHONDONTWRITEBYTECODE set and a plain `uv sync`) every start compiles them from "
        "source: 5.3 s instead of 2.5 s here; scripts/dev and scripts/test now sync with "
        "--compile-bytecode.  redis-py is imported only for a Redis store.  Closing the "
        "rest: importing Authlib, joserfc and Jinja2 only at first use."
    ),
    "memory_memory": (
        "Memory store over 100 MB: a record is held packed (app/session_packing.py: its "
        "JWTs taken apart, then deflated; bench.memory prints JSON and held bytes, about "
        "2.6 kB and 1.2 kB for a dev-tenant login), each session costs about 0.7 kB more "
        "(its id and LRU entry, its two back-channel links), and the idle app is about "
        "74 MB of frameworks (uvicorn, pydantic-settings, FastAPI, cryptography: "
        "bench/README.md has the breakdown).  Check what grew: a larger record (more token "
        "sets, a tenant's large custom claims), or a module a memory:// process imports "
        "without using it (redis-py must not be in sys.modules)."
    ),
    "memory_redis": (
        "Redis store over 100 MB: the app itself should not grow with Redis sessions; "
        "check that nothing caches sessions in process."
    ),
}


@dataclass(frozen=True)
class Row:
    """One line of the table; `ok` is None when the figure could not be measured."""

    key: str
    figure: str
    target: str
    measured: str
    ok: bool | None

    @classmethod
    def missing(cls, figure: str, target: str, reason: str) -> Row:
        return cls("missing", figure, target, f"not measured: {reason}", None)

    @property
    def verdict(self) -> str:
        return {True: "ok", False: "SHORT", None: "-"}[self.ok]


def render_table(rows: Sequence[Row]) -> str:
    header = Row("", "figure", "target", "measured", None)
    widths = [
        max(len(row.figure) for row in (header, *rows)),
        max(len(row.target) for row in (header, *rows)),
        max(len(row.measured) for row in (header, *rows)),
    ]
    lines = []
    for row in (header, *rows):
        verdict = "verdict" if row is header else row.verdict
        lines.append(
            f"{row.figure:<{widths[0]}}  {row.target:<{widths[1]}}  "
            f"{row.measured:<{widths[2]}}  {verdict}"
        )
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)
