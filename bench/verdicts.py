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
        "API below Express: a repeated token is already a dictionary lookup (api/verify.py "
        "caches verified tokens until exp), so the gap is per-request framework work: "
        "uvicorn, Starlette/FastAPI routing and dependency resolution, CORS, security "
        "headers and our one access-log line per request, which Express does not write.  "
        "Runs on this 2-core machine swing between 0.87x and 1.09x.  Closing it for good: "
        "one worker per core (`uvicorn --workers`), or fewer middleware layers."
    ),
    "api_dpop": (
        "DPoP below Express: no cache can help here, each request brings a new proof, so "
        "our API verifies an ES256 signature (python-jose over cryptography) and records "
        "its jti on every request, where Express's jose calls node's native crypto and keeps "
        "no replay record.  Closing it: one worker per core, or a faster ECDSA verify."
    ),
    "jwks": (
        "JWKS fetched more than once: the key cache was missed or expired during the run; "
        "check api/jwks.py's max-age and cooldown."
    ),
    "proxy": (
        "Proxy adds more than 1 ms: the app's CPU per proxied request goes mostly to httpx/"
        "httpcore, not to our code: httpcore's pool checks every pooled connection on each "
        "request (a select() per connection) and anyio looks up the running event loop "
        "several times per request (sniffio is now a dependency, which removed a failing "
        "import per call: 321 -> 378 req/s); the shared client's no-op cookie jar still "
        "parses every response, and each StreamingResponse starts an anyio task group.  "
        "Closing it: a leaner transport for the one upstream (e.g. a pooled raw HTTP/1.1 "
        "connection set), and small JSON answers sent as a plain Response, not a stream."
    ),
    "proxy_errors": "Proxy errors: the run measured failures, not latency; see the app's log.",
    "api_errors": "API errors: the run measured failures, not throughput.",
    "startup": (
        "Start-up over 2 s: three Python processes import FastAPI, pydantic, Authlib, "
        "python-jose and cryptography at the same time on 2 cores (about 1 s of CPU each), "
        "and the tenant's first start generates RSA keys.  Closing it: import Authlib's "
        "client, redis and Jinja2 lazily (only when used), and byte-compile on install "
        "(`UV_COMPILE_BYTECODE=1`), so a cold start does not compile .pyc files."
    ),
    "memory_memory": (
        "Memory store over 100 MB: the app idles at about 90 MB (FastAPI, pydantic, "
        "Authlib, python-jose, cryptography, redis and Jinja2 in one process) and each "
        "logged-in session is a 2.8 kB JSON record (ID token, access token, refresh token, "
        "and the ID-token claims kept twice: `user` and `id_token_claims`).  Closing it: "
        "keep the ID token only for providers that need `id_token_hint`, store the claims "
        "once, zlib-compress records (JWTs are base64: ~25% smaller), and do not import "
        "redis unless SESSION_STORE_URL is redis://."
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
