"""Workers Static Assets as `gateway serve` plays them: the same folder, rules and headers.

`wrangler.toml` `[assets]` is read once: the folder, and `run_worker_first` (paths that always go
to the app, so no file can shadow an API route). Other GET and HEAD requests that name a file are
answered from the folder without a key, with `html_handling = "auto-trailing-slash"` (`/docs`
serves `docs.html`, `/` serves `index.html`, `/docs.html` redirects to `/docs`) and the headers
of the folder's `_headers` file; everything else goes to the app, which always wants a key.
"""

from __future__ import annotations

import fnmatch
import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._asgi.http import ASGIApp, Receive, Scope, Send, header

__all__ = ["AssetConfig", "StaticAssets", "parse_headers_file", "read_asset_config"]

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
}
# Files the platform reads as configuration and never serves.
_NOT_SERVED = frozenset({"_headers", "_redirects", ".assetsignore"})


@dataclass(frozen=True)
class AssetConfig:
    directory: Path
    run_worker_first: tuple[str, ...] = ()
    headers: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = field(default=())


def parse_headers_file(text: str) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    """`_headers`: a path pattern on its own line, then its `Name: value` lines, indented."""
    rules: list[tuple[str, list[tuple[str, str]]]] = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace():
            rules.append((line.strip(), []))
        elif rules and ":" in line:
            name, _, value = line.strip().partition(":")
            rules[-1][1].append((name.strip().lower(), value.strip()))
    return tuple((pattern, tuple(headers)) for pattern, headers in rules)


def read_asset_config(root: Path) -> AssetConfig | None:
    """The `[assets]` table of `wrangler.toml`, or None when there is none."""
    path = root / "wrangler.toml"
    if not path.is_file():
        return None
    with path.open("rb") as handle:
        assets = tomllib.load(handle).get("assets")
    if not assets:
        return None
    directory = (root / assets["directory"]).resolve()
    first = assets.get("run_worker_first", False)
    patterns = ("/*",) if first is True else tuple(first or ())
    headers_file = directory / "_headers"
    headers = parse_headers_file(headers_file.read_text()) if headers_file.is_file() else ()
    return AssetConfig(directory=directory, run_worker_first=patterns, headers=headers)


def _matches(pattern: str, path: str) -> bool:
    return fnmatch.fnmatchcase(path, pattern) or (pattern.endswith("/*") and path == pattern[:-2])


class StaticAssets:
    def __init__(self, app: ASGIApp, config: AssetConfig) -> None:
        self.app = app
        self.config = config

    def _worker_first(self, path: str) -> bool:
        wanted = [p for p in self.config.run_worker_first if not p.startswith("!")]
        excluded = [p[1:] for p in self.config.run_worker_first if p.startswith("!")]
        return any(_matches(p, path) for p in wanted) and not any(_matches(p, path) for p in excluded)

    def _file(self, relative: str) -> Path | None:
        candidate = (self.config.directory / relative.lstrip("/")).resolve()
        inside = candidate.is_relative_to(self.config.directory)
        if inside and candidate.is_file() and candidate.name not in _NOT_SERVED:
            return candidate
        return None

    def _find(self, path: str) -> tuple[Path | None, str | None]:
        """(file to serve, or None; where to redirect, or None), as auto-trailing-slash has it."""
        if path.endswith("/index.html") or path.endswith("/index"):
            folder = path.rsplit("/", 1)[0] + "/"
            return (None, folder) if self._file(folder + "index.html") else (None, None)
        if path.endswith(".html") and self._file(path):
            return None, path[: -len(".html")]
        if path.endswith("/"):
            if self._file(path + "index.html"):
                return self._file(path + "index.html"), None
            return (None, path.rstrip("/")) if path != "/" and self._file(path.rstrip("/") + ".html") else (None, None)
        if self._file(path):
            return self._file(path), None
        if self._file(path + ".html"):
            return self._file(path + ".html"), None
        return (None, path + "/") if self._file(path + "/index.html") else (None, None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD") or self._worker_first(path):
            await self.app(scope, receive, send)
            return
        found, redirect = self._find(path)
        if redirect is not None:
            await _send(send, 307, [(b"location", redirect.encode())], b"")
        elif found is not None:
            await self._serve(scope, send, path, found)
        else:
            await self.app(scope, receive, send)

    def _headers_for(self, path: str) -> list[tuple[bytes, bytes]]:
        extra = [(n, v) for pattern, rules in self.config.headers if _matches(pattern, path) for n, v in rules]
        return [(name.encode(), value.encode()) for name, value in extra]

    async def _serve(self, scope: Scope, send: Send, path: str, found: Path) -> None:
        body = found.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        headers = [
            (b"content-type", _TYPES.get(found.suffix, "application/octet-stream").encode()),
            (b"cache-control", b"public, max-age=0, must-revalidate"),
            (b"etag", etag.encode()),
            *self._headers_for(path),
        ]
        if header(scope, b"if-none-match") == etag:
            await _send(send, 304, headers, b"")
            return
        headers.append((b"content-length", str(len(body)).encode()))
        await _send(send, 200, headers, b"" if scope["method"] == "HEAD" else body)


async def _send(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    message: dict[str, Any] = {"type": "http.response.start", "status": status, "headers": headers}
    await send(message)
    await send({"type": "http.response.body", "body": body})
