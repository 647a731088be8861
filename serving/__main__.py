"""`python -m serving api.main:app --port 3001`: uvicorn as the Procfile runs it.

uvicorn's command line only offers its built-in HTTP protocols, so this runs uvicorn with
`BoundedHttpToolsProtocol` (see protocol.py), no reload, and no uvicorn access log (it prints
query strings, which can hold codes and state; the services log one line of their own).
`--workers` defaults to `WEB_CONCURRENCY`, as uvicorn's own `--workers` does; with more
than one, the app is imported in this parent process first, so bad settings stop start-up.
"""

from __future__ import annotations

import argparse
import os

import uvicorn
from uvicorn.importer import import_from_string

from serving.protocol import BoundedHttpToolsProtocol

DEFAULT_HOST = "127.0.0.1"
DEFAULT_WORKERS = 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m serving", description=__doc__)
    parser.add_argument("app", help="import string of the ASGI app, e.g. api.main:app")
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", DEFAULT_WORKERS))
    )
    parser.add_argument("--factory", action="store_true", help="APP is a factory to call")
    parser.add_argument("--log-level", default="info")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.workers > 1 and not args.factory:
        # Imported once here first: bad settings end start-up with the app's one sentence,
        # instead of every worker failing the same way and being started again, forever.
        import_from_string(args.app)
    uvicorn.run(
        args.app,
        host=args.host,
        port=args.port,
        workers=args.workers,
        factory=args.factory,
        log_level=args.log_level,
        access_log=False,
        http=BoundedHttpToolsProtocol,
    )


if __name__ == "__main__":
    main()
