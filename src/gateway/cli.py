"""`gateway`: run the local server, and manage API keys."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .keys import key_entry, new_key

__all__ = ["main"]


def _create_key(args: argparse.Namespace) -> int:
    key = new_key()
    entry = json.dumps(key_entry(args.name, key))
    print(f"""New API key "{args.name}". It is shown only this once; store it now:

    {key}

Add this entry to the GATEWAY_KEYS JSON list (the gateway stores only the hash):

    {entry}

Next:
  production:  npx wrangler secret put GATEWAY_KEYS      (paste the whole list, e.g. [{entry}])
  locally:     GATEWAY_KEYS='[{entry}]' in .dev.vars
Clients send it as `Authorization: Bearer <key>` (what the openai SDK does) or `x-api-key: <key>`.""")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from .local.config import find_project_root
    from .local.server import serve

    return serve(args.host, args.port, args.backend, find_project_root(Path.cwd()))


def _parser() -> argparse.ArgumentParser:
    from .local.server import BACKENDS

    parser = argparse.ArgumentParser(prog="gateway", description="gpt-oss gateway: local server and key tools")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the gateway locally under uvicorn")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8787, help="port (default 8787, as wrangler dev)")
    serve.add_argument("--backend", choices=BACKENDS, help="AI backend (default: chosen from the configuration)")
    serve.set_defaults(handler=_serve)
    keys = commands.add_parser("keys", help="manage API keys").add_subparsers(dest="keys_command", required=True)
    create = keys.add_parser("create", help="make a new random key and print its GATEWAY_KEYS entry")
    create.add_argument("--name", required=True, help="a name for the key; logs show it, never the key")
    create.set_defaults(handler=_create_key)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
