"""`python -m devtenant [--host 127.0.0.1] [--port 4000] [--reset]` and
`python -m devtenant rotate-keys`."""

from __future__ import annotations

import argparse
import sys

import uvicorn

from devtenant import json_files, keys
from devtenant.config import Settings, SettingsError, get_settings

DEFAULT_HOST = "127.0.0.1"  # loopback: the dev tenant must not be reachable from the network
DEFAULT_PORT = 4000
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
BANNER = (
    "devtenant: a local Auth0-compatible tenant FOR DEVELOPMENT ONLY "
    "(demo users, published secrets). Issuer {issuer}, data in {data_dir}/"
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devtenant", description=__doc__)
    parser.add_argument("command", nargs="?", choices=["serve", "rotate-keys"], default="serve")
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument(
        "--reset", action="store_true", help="forget users' edits, keys and refresh tokens"
    )
    return parser.parse_args(argv)


def rotate_keys(settings: Settings) -> None:
    kid = keys.rotate(settings.devtenant_data_dir, settings.max_token_lifetime)
    print(f"devtenant: now signing with key {kid}; the previous key stays published.")


def issuer_for_port(settings: Settings, port: int) -> Settings:
    """`settings`, naming the issuer after the port served on unless DEVTENANT_ISSUER is set:
    `--port 4791` alone must not publish discovery for http://localhost:4000/."""
    if "devtenant_issuer" in settings.model_fields_set:
        return settings
    return settings.model_copy(update={"devtenant_issuer": f"http://localhost:{port}/"})


def is_loopback_host(host: str) -> bool:
    return host in LOOPBACK_NAMES or host.startswith("127.")


def serve(settings: Settings, host: str, port: int, reset: bool) -> None:
    from devtenant.main import create_app

    if reset:
        json_files.reset(settings.devtenant_data_dir)
    app = create_app(settings)
    print(BANNER.format(issuer=settings.issuer, data_dir=settings.devtenant_data_dir))
    if not is_loopback_host(host):
        print(f"devtenant: WARNING: listening on {host}, reachable beyond this machine.")
    # No access log: query strings such as /oidc/logout?id_token_hint=... carry tokens.
    uvicorn.run(app, host=host, port=port, access_log=False)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        settings = get_settings()
        if args.command == "rotate-keys":
            rotate_keys(settings)
        else:
            serve(issuer_for_port(settings, args.port), args.host, args.port, args.reset)
    except SettingsError as exc:
        sys.exit(f"devtenant: cannot start: {exc}")


if __name__ == "__main__":
    main()
