"""Every benchmark in one run, one table: `uv run python -m bench [--duration S] [--quick]`.

1. API: ours against Auth0's Express reference (`bench.api`, printed as it runs);
2. API: our `/api/public` against a bare FastAPI endpoint on the same uvicorn (`bench.public`);
3. proxy: what the frontend's `/api/*` adds, in latency and throughput (`bench.proxy`);
4. start-up: `honcho start` until all three answer (`bench.startup`);
5. memory: the app's RSS with 10,000 live sessions, memory store and Redis (`bench.memory`).

A part that cannot run (no node, no wrk, no redis-server) is reported as not measured with
its reason; the other parts still run.  Then one table: figure, target, measured, verdict,
and for each figure that falls short, why and what would close it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from bench import api, memory, proxy, public, startup
from bench.verdicts import SHORTFALL_NOTES, Row, render_table
from bench.wrk import DEFAULT_DURATION

T = TypeVar("T")
QUICK_DURATION = 3  # seconds per wrk run with --quick
_RATIO = re.compile(r"^ratio ours/express: ([\d.]+)", re.MULTILINE)
# A row of bench.api's table: server, req/s, p50, p99, jwks, disc, errors.
_ROW = re.compile(
    r"^(ours|express)\s+(\d+)\s+[\d.]+\s+[\d.]+\s+(\d+)\s+(\d+)\s+(\d+)", re.MULTILINE
)


@dataclass(frozen=True)
class Options:
    duration: float
    rounds: int
    startup_runs: int
    sessions: int


def parse_args(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--duration", type=float, default=None, help="seconds per wrk run")
    parser.add_argument("--quick", action="store_true", help="short runs, one round each")
    args = parser.parse_args(argv)
    duration = args.duration or (QUICK_DURATION if args.quick else DEFAULT_DURATION)
    return Options(
        duration=duration,
        rounds=1 if args.quick else api.DEFAULT_ROUNDS,
        startup_runs=1 if args.quick else startup.DEFAULT_RUNS,
        sessions=memory.DEFAULT_SESSIONS,  # the figure, quick or not (about 10 s)
    )


def attempt(name: str, measure: Callable[[], T]) -> T | str:
    """`measure()`, or the reason it could not run (one line), so other parts still run."""
    print(f"\n== {name}", flush=True)
    started = time.monotonic()
    try:
        result = measure()
    except Exception as exc:  # any failure of one part is reported, never fatal to the run
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"   not measured: {reason}", flush=True)
        return reason
    except SystemExit as exc:  # bench.api exits with a sentence when a server refuses
        print(f"   not measured: {exc}", flush=True)
        return str(exc)
    print(f"   ({time.monotonic() - started:.0f} s)", flush=True)
    return result


def api_part(options: Options) -> str:
    """bench.api's own table (echoed); its output is what this command reads figures from."""
    argv = ["--duration", str(round(options.duration)), "--rounds", str(options.rounds)]
    captured = io.StringIO()
    with contextlib.redirect_stdout(captured):
        api.main(argv)
    print(captured.getvalue(), end="")
    return captured.getvalue()


def api_rows(output: str | None, reason: str) -> list[Row]:
    """Rows for each of bench.api's tables: Bearer, then DPoP (its header names DPoP)."""
    tables = (output or "").split("GET /api/private")[1:]
    bearer = [table for table in tables if "DPoP" not in table.splitlines()[0]]
    dpop = [table for table in tables if "DPoP" in table.splitlines()[0]]
    return [
        *_api_table_rows(bearer[0] if bearer else None, reason, "api", "Bearer"),
        *_api_table_rows(dpop[0] if dpop else None, reason, "api_dpop", "DPoP"),
    ]


def _api_table_rows(table: str | None, reason: str, key: str, scheme: str) -> list[Row]:
    ratio = _RATIO.search(table or "")
    rows = {match[1]: match for match in _ROW.finditer(table or "")}
    name = f"API /api/private {scheme}, ours / Express"
    target = api.TARGET_RATIO if scheme == "Bearer" else api.DPOP_TARGET_RATIO
    if ratio is None or "ours" not in rows or "express" not in rows:
        return [Row.missing(name, f">= {target}x", reason)]
    ours, express = rows["ours"], rows["express"]
    measured = f"{float(ratio[1]):.2f}x ({ours[2]} vs {express[2]} req/s)"
    errors = int(ours[5]) + int(express[5])
    rows_out = [Row(key, name, f">= {target}x", measured, float(ratio[1]) >= target)]
    if scheme == "Bearer":  # the first run: it fetches the keys, the DPoP run reuses them
        rows_out.append(Row("jwks", "JWKS fetches by our API", "1", ours[3], int(ours[3]) == 1))
    errors_row = Row("api_errors", f"API errors, {scheme}", "0", str(errors), errors == 0)
    return [*rows_out, errors_row]


def public_rows(figures: public.PublicFigures | str) -> list[Row]:
    name = "API /api/public, ours / bare FastAPI"
    target = f">= {public.TARGET_RATIO}x"
    if isinstance(figures, str):
        return [Row.missing(name, target, figures)]
    measured = f"{figures.ratio:.2f}x ({figures.ours_rps:.0f} vs {figures.bare_rps:.0f} req/s)"
    ok = figures.ratio >= public.TARGET_RATIO and figures.failures == 0
    return [Row("public", name, target, measured, ok)]


def proxy_rows(figures: list[proxy.ProxyFigures] | str) -> list[Row]:
    if isinstance(figures, str):
        return [Row.missing("Proxy: added p50", "<= 1 ms", figures)]
    rows = []
    for figure in figures:
        if figure.connections == proxy.LOADED_CONNECTIONS:
            # Under load the medians are queueing; the target there is throughput.
            rows.append(_throughput_row(figure))
            continue
        measured = (
            f"{figure.added_p50_ms:+.2f} ms ({figure.direct.p50_ms:.2f} -> "
            f"{figure.proxied.p50_ms:.2f}; {figure.proxied.requests_per_second:.0f} vs "
            f"{figure.direct.requests_per_second:.0f} req/s)"
        )
        name = f"Proxy /api/external: added p50, {figure.connections} conn"
        target_ok = figure.added_p50_ms <= proxy.TARGET_ADDED_MS
        rows.append(Row("proxy", name, "<= 1 ms", measured, target_ok))
    errors = sum(figure.failures for figure in figures)
    rows.append(Row("proxy_errors", "Proxy errors (both paths)", "0", str(errors), errors == 0))
    return rows


def _throughput_row(figure: proxy.ProxyFigures) -> Row:
    name = f"Proxy /api/external: req/s, {figure.connections} conn, proxied / direct"
    target = f">= {proxy.TARGET_THROUGHPUT_RATIO}x"
    measured = (
        f"{figure.throughput_ratio:.2f}x ({figure.proxied.requests_per_second:.0f} vs "
        f"{figure.direct.requests_per_second:.0f} req/s; p50 {figure.proxied.p50_ms:.1f} vs "
        f"{figure.direct.p50_ms:.1f} ms)"
    )
    ok = figure.throughput_ratio >= proxy.TARGET_THROUGHPUT_RATIO
    return Row("proxy_rps", name, target, measured, ok)


def startup_rows(figures: startup.StartupFigures | str) -> list[Row]:
    name = "Start-up: honcho start until all 3 answer"
    if isinstance(figures, str):
        return [Row.missing(name, "<= 2 s", figures)]
    where = "Procfile ports" if figures.fixed_ports else "free ports: 3000/3001/4000 busy"
    measured = f"{figures.median:.2f} s (median of {len(figures.seconds)}, {where})"
    return [Row("startup", name, "<= 2 s", measured, figures.median <= startup.TARGET_SECONDS)]


def memory_rows(figures: list[memory.MemoryFigures] | str, sessions: int) -> list[Row]:
    if isinstance(figures, str):
        return [Row.missing(f"App RSS, {sessions:,} sessions", "<= 100 MB", figures)]
    rows = []
    for figure in figures:
        measured = (
            f"{figure.rss_after / memory.MB:.1f} MB ({figure.rss_before / memory.MB:.1f} idle,"
            f" {figure.per_session / 1000:.1f} kB/session)"
        )
        if figure.redis_used is not None:
            measured += f"; Redis +{figure.redis_used / memory.MB:.1f} MB"
        name = f"App RSS, {figure.sessions:,} sessions, {figure.store} store"
        ok = figure.rss_after <= memory.TARGET_RSS
        rows.append(Row(f"memory_{figure.store}", name, "<= 100 MB", measured, ok))
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    options = parse_args(argv)
    command = " ".join(["uv run python -m bench", *(argv if argv is not None else sys.argv[1:])])
    print(f"$ {command.strip()}")
    print(f"bench: wrk runs of {options.duration:g} s, {options.rounds} round(s)", flush=True)
    api_result = attempt("API: ours vs the Express reference", lambda: api_part(options))
    public_result = attempt(
        "API: /api/public vs a bare FastAPI endpoint",
        lambda: public.measure_public(options.duration, options.rounds),
    )
    proxy_result = attempt("Proxy", lambda: proxy.measure_proxy(options.duration))
    startup_result = attempt("Start-up", lambda: startup.measure_startup(options.startup_runs))
    memory_result = attempt("Memory", lambda: memory.measure_memory(options.sessions))
    api_output = api_result if _RATIO.search(api_result) else None
    rows = [
        *api_rows(api_output, api_result),
        *public_rows(public_result),
        *proxy_rows(proxy_result),
        *startup_rows(startup_result),
        *memory_rows(memory_result, options.sessions),
    ]
    print()
    print(f"$ {command.strip()}")
    print(render_table(rows))
    short = [row for row in rows if row.ok is False and row.key in SHORTFALL_NOTES]
    for key in dict.fromkeys(row.key for row in short):
        print(f"\n* {SHORTFALL_NOTES[key]}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
