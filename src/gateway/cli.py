"""`gateway`: run the local server, and manage API keys."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["main"]


def _serve(args: argparse.Namespace) -> int:
    from .local.config import find_project_root
    from .local.server import serve

    return serve(args.host, args.port, args.backend, find_project_root(Path.cwd()))


def _parser() -> argparse.ArgumentParser:
    from .local.keycommands import add_key_commands
    from .local.server import BACKENDS

    parser = argparse.ArgumentParser(prog="gateway", description="gpt-oss gateway: local server and key tools")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the gateway locally under uvicorn")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8787, help="port (default 8787, as wrangler dev)")
    serve.add_argument("--backend", choices=BACKENDS, help="AI backend (default: chosen from the configuration)")
    serve.set_defaults(handler=_serve)
    keys = commands.add_parser("keys", help="manage API keys").add_subparsers(dest="keys_command", required=True)
    add_key_commands(keys)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
