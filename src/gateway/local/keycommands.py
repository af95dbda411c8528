"""`gateway keys create|hash|revoke|list`, for the three key stores.

- `env`: the `GATEWAY_KEYS` secret (a JSON list). The CLI prints the entry or the new list and the
  `wrangler secret put` to run; locally it reads the list from .dev.vars / the environment.
- `kv`: the `GATEWAY_KEYS_KV` namespace (records under the key's SHA-256). The CLI prints the
  `wrangler kv key put|list` to run; it never talks to Cloudflare itself.
- `file`: the local server's keys file, which the CLI edits in place.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from .._limits.bindings import KEYS_BINDING
from .._policy import format_time, parse_key_record, parse_keys, parse_time
from .config import find_project_root, load_env
from .keygen import new_key, sha256_hex
from .keystore import DEFAULT_KEYS_FILE, FileKeyStore

__all__ = ["STORES", "add_key_commands", "create", "hash_key", "list_keys", "revoke"]

STORES = ("env", "kv", "file")
_HOW_CLIENTS_SEND = "Clients send it as `Authorization: Bearer <key>` (what the openai SDK does) or `x-api-key: <key>`."


def _root() -> Path:
    return find_project_root(Path.cwd())


def _file_store() -> FileKeyStore:
    root = _root()
    return FileKeyStore(root / load_env(root).get("KEYS_FILE", DEFAULT_KEYS_FILE))


def _record(args: argparse.Namespace) -> dict[str, Any]:
    record: dict[str, Any] = {"name": args.name}
    if args.tier:
        record["tier"] = args.tier
    if args.models:
        record["models"] = [model.strip() for model in args.models.split(",") if model.strip()]
    if args.expires:
        record["expires_at"] = format_time(parse_time(args.expires, "--expires") or 0)
    return record


def _kv_put(sha256: str, record: dict[str, Any]) -> str:
    value = json.dumps(record, separators=(",", ":"))
    return f"npx wrangler kv key put --binding {KEYS_BINDING} --remote {sha256} {shlex.quote(value)}"


def create(args: argparse.Namespace) -> int:
    record = _record(args)
    key = new_key()
    digest = sha256_hex(key)
    parse_key_record(record, where="the new key", sha256=digest)  # refuse a bad --tier/--expires now
    print(f'New API key "{args.name}". It is shown only this once; store it now:\n\n    {key}\n')
    if args.store == "env":
        entry = json.dumps({"name": args.name, "sha256": digest, **{k: v for k, v in record.items() if k != "name"}})
        print(f"""Add this entry to the GATEWAY_KEYS JSON list (the gateway stores only the hash):

    {entry}

Next:
  production:  npx wrangler secret put GATEWAY_KEYS      (paste the whole list, e.g. [{entry}])
  locally:     GATEWAY_KEYS='[{entry}]' in .dev.vars""")
    elif args.store == "kv":
        print(
            f"Next, store its record in KV under its hash (no redeploy; live everywhere within a minute):\n\n"
            f"    {_kv_put(digest, record)}"
        )
    else:
        store = _file_store()
        store.put(digest, record)
        print(f"Added to {store.path}. `gateway serve` reads it on every request: the key works now.")
    print(_HOW_CLIENTS_SEND)
    return 0


def hash_key(args: argparse.Namespace) -> int:
    key = args.key if args.key is not None else sys.stdin.readline().strip()
    if not key:
        print("gateway keys hash: give the key as an argument or on standard input", file=sys.stderr)
        return 2
    digest = sha256_hex(key)
    print(f"""{digest}

GATEWAY_KEYS entry:  {json.dumps({"name": "NAME", "sha256": digest})}
KV record:           {_kv_put(digest, {"name": "NAME"})}""")
    return 0


def _env_keys() -> list[dict[str, Any]]:
    raw = load_env(_root()).get("GATEWAY_KEYS", "")
    parse_keys(raw or "[]")  # says what is wrong with it, if anything
    return list(json.loads(raw or "[]"))


def _matches(entry: dict[str, Any], digest: str, which: str) -> bool:
    return entry.get("name") == which or digest == which.lower()


def revoke(args: argparse.Namespace) -> int:
    which = args.which
    if args.store == "kv":
        if len(which) != 64:
            print(
                "gateway keys revoke --store kv: give the key's SHA-256 (`gateway keys hash`), "
                "as KV stores records by it",
                file=sys.stderr,
            )
            return 2
        print(
            f"Next, mark it revoked (clients get a 401 that says so):\n\n"
            f"    {_kv_put(which.lower(), {'name': args.name or 'revoked', 'disabled': True})}\n\n"
            f'or delete it (clients get "not valid"):\n\n'
            f"    npx wrangler kv key delete --binding {KEYS_BINDING} --remote {which.lower()}"
        )
        return 0
    if args.store == "file":
        return _revoke_in_file(which)
    return _revoke_in_env(which)


def _revoke_in_file(which: str) -> int:
    store = _file_store()
    records = store.records()
    found = [digest for digest, record in records.items() if _matches(record, digest, which)]
    if not found:
        print(f"gateway keys revoke: no key named or hashed {which!r} in {store.path}", file=sys.stderr)
        return 1
    for digest in found:
        records[digest]["disabled"] = True
    store.write(records)
    print(f"Revoked {len(found)} key(s) in {store.path}; `gateway serve` refuses them from now on.")
    return 0


def _revoke_in_env(which: str) -> int:
    entries = _env_keys()
    found = [entry for entry in entries if _matches(entry, str(entry.get("sha256", "")), which)]
    if not found:
        print(
            f"gateway keys revoke: no key named or hashed {which!r} in GATEWAY_KEYS (.dev.vars or the environment)",
            file=sys.stderr,
        )
        return 1
    for entry in found:
        entry["disabled"] = True
    updated = json.dumps(entries)
    print(f"""The new GATEWAY_KEYS, with {len(found)} key(s) revoked:

    {updated}

Next:
  production:  npx wrangler secret put GATEWAY_KEYS      (paste the list above)
  locally:     replace GATEWAY_KEYS in .dev.vars with it""")
    return 0


def list_keys(args: argparse.Namespace) -> int:
    if args.store == "kv":
        print(
            "KV records are listed by Cloudflare:\n\n"
            f"    npx wrangler kv key list --binding {KEYS_BINDING} --remote\n\n"
            f"and one is read with: npx wrangler kv key get --binding {KEYS_BINDING} --remote <sha256>"
        )
        return 0
    if args.store == "file":
        rows = [{"sha256": digest, **record} for digest, record in _file_store().records().items()]
    else:
        rows = _env_keys()
    for row in rows:
        key = parse_key_record(row, where=str(row.get("name")), sha256=row.get("sha256"))
        state = "revoked" if key.disabled else "active"
        expires = format_time(key.expires_at) if key.expires_at is not None else "never"
        models = ",".join(key.models) if key.models else "all"
        print(f"{key.name:<20} {key.key_id[:12]}…  tier={key.tier:<10} models={models}  expires={expires}  {state}")
    if not rows:
        print("no keys; make one with `gateway keys create --name NAME`")
    return 0


def add_key_commands(keys: Any) -> None:
    """Add create/hash/revoke/list to the `keys` subparsers."""
    create_parser = keys.add_parser("create", help="make a new random key and say how to configure it")
    create_parser.add_argument("--name", required=True, help="a name for the key; logs show it, never the key")
    create_parser.add_argument("--tier", help="the key's tier in TIERS (default: default)")
    create_parser.add_argument("--models", help="comma-separated models the key may use (default: all served)")
    create_parser.add_argument("--expires", help="when the key stops working, ISO 8601 (2026-12-31 or ...T00:00:00Z)")
    create_parser.add_argument("--store", choices=STORES, default="env", help="where the record goes (default env)")
    create_parser.set_defaults(handler=create)
    hash_parser = keys.add_parser("hash", help="print a key's SHA-256, as the stores keep it")
    hash_parser.add_argument("key", nargs="?", help="the key (default: read from standard input)")
    hash_parser.set_defaults(handler=hash_key)
    revoke_parser = keys.add_parser("revoke", help="revoke a key by name or SHA-256")
    revoke_parser.add_argument("which", help="the key's name (env, file) or SHA-256 (any store)")
    revoke_parser.add_argument("--name", help="with --store kv: the name to keep on the revoked record")
    revoke_parser.add_argument("--store", choices=STORES, default="env")
    revoke_parser.set_defaults(handler=revoke)
    list_parser = keys.add_parser("list", help="list keys: name, hash prefix, tier, models, expiry, state")
    list_parser.add_argument("--store", choices=STORES, default="env")
    list_parser.set_defaults(handler=list_keys)
