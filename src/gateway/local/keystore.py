"""The local server's key store: a JSON file of key records by hash, like the KV namespace.

    {"<sha256 hex>": {"name": "alice", "tier": "default", "expires_at": null, "disabled": false}}

It is read again whenever it has changed (checked by a stat on each lookup), so `gateway keys
create|revoke --store file` takes effect at once, as a KV write does in the Worker (there, within a
minute). Set `KEYS_FILE` to move it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .._policy import ApiKey, parse_key_record

__all__ = ["DEFAULT_KEYS_FILE", "FileKeyStore"]

DEFAULT_KEYS_FILE = ".gateway-keys.json"


class FileKeyStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = f"keys file {path}"
        # The last parse and the file version it came from: lookups re-read only a changed file.
        self._loaded: tuple[tuple[int, int, int], dict[str, dict[str, Any]]] | None = None

    def records(self) -> dict[str, dict[str, Any]]:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return {}
        version = (stat.st_ino, stat.st_mtime_ns, stat.st_size)  # write() renames: a new inode
        if self._loaded is None or self._loaded[0] != version:
            data = json.loads(self.path.read_text() or "{}")
            if not isinstance(data, dict):
                raise ValueError(f"{self.path} must hold a JSON object of key records by SHA-256")
            self._loaded = (version, data)
        return dict(self._loaded[1])

    def write(self, records: dict[str, dict[str, Any]]) -> None:
        # Write then rename, so a server reading it never sees half a file.
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(records, indent=2) + "\n")
        os.replace(temporary, self.path)

    def put(self, sha256_hex: str, record: dict[str, Any]) -> None:
        records = self.records()
        records[sha256_hex] = record
        self.write(records)

    async def find(self, sha256_hex: str) -> ApiKey | None:
        record = self.records().get(sha256_hex)
        if record is None:
            return None
        return parse_key_record(record, where=f"{self.path}[{sha256_hex[:12]}…]", sha256=sha256_hex)
