"""`gateway serve`'s static assets: the Workers Static Assets rules, played locally.

Files are served without a key, with the folder's `_headers`; API paths always reach the app
(which wants a key), even when a file has the same name; nothing outside the folder is served.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from gateway._asgi.http import Receive, Scope, Send, send_json
from gateway.local.assets import AssetConfig, StaticAssets, parse_headers_file, read_asset_config
from gateway.local.server import build_local_app
from tests.client import request, run
from tests.local.conftest import ROOT

HEADERS = """# comment
/*
  X-Content-Type-Options: nosniff
/docs
  X-Extra: docs only
"""


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    await send_json(send, 401, {"error": {"message": f"the app got {scope['method']} {scope['path']}"}})


@pytest.fixture
def assets(tmp_path: Path) -> StaticAssets:
    for name, text in {
        "index.html": "<h1>home</h1>",
        "docs.html": "<h1>docs</h1>",
        "app.js": "export {}",
        "guide/index.html": "guide",
        "healthz": "a file that must not shadow the route",
        "v1/models": "likewise",
        "_headers": HEADERS,
    }.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    (tmp_path.parent / "secret.txt").write_text("outside")
    config = AssetConfig(
        directory=tmp_path.resolve(),
        run_worker_first=("/v1/*", "/healthz", "!/v1/public/*"),
        headers=parse_headers_file(HEADERS),
    )
    return StaticAssets(app, config)


def get(assets: StaticAssets, path: str, method: str = "GET", **headers: str) -> Any:
    return run(request(assets, method, path, headers=headers))


@pytest.mark.parametrize(
    ("path", "body"),
    [("/", b"<h1>home</h1>"), ("/docs", b"<h1>docs</h1>"), ("/app.js", b"export {}"), ("/guide/", b"guide")],
)
def test_files_are_served_without_a_key(assets: StaticAssets, path: str, body: bytes) -> None:
    reply = get(assets, path)
    assert reply.status == 200 and reply.body == body
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert reply.headers["cache-control"] == "public, max-age=0, must-revalidate"


def test_content_types_headers_etags_and_head(assets: StaticAssets) -> None:
    assert get(assets, "/").headers["content-type"] == "text/html; charset=utf-8"
    assert get(assets, "/app.js").headers["content-type"].startswith("text/javascript")
    assert get(assets, "/docs").headers["x-extra"] == "docs only"
    assert "x-extra" not in get(assets, "/").headers
    etag = get(assets, "/app.js").headers["etag"]
    assert etag == '"' + hashlib.sha256(b"export {}").hexdigest()[:32] + '"'
    assert get(assets, "/app.js", **{"if-none-match": etag}).status == 304
    head = get(assets, "/app.js", "HEAD")
    assert head.status == 200 and head.body == b"" and head.headers["content-length"] == "9"


@pytest.mark.parametrize(
    ("path", "location"),
    [("/docs.html", "/docs"), ("/guide", "/guide/"), ("/index.html", "/"), ("/guide/index.html", "/guide/")],
)
def test_auto_trailing_slash_redirects_to_the_canonical_path(assets: StaticAssets, path: str, location: str) -> None:
    reply = get(assets, path)
    assert (reply.status, reply.headers["location"]) == (307, location)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/healthz"),  # a file of that name exists, the route wins
        ("GET", "/v1/models"),
        ("POST", "/"),  # only GET and HEAD read files
        ("GET", "/_headers"),  # configuration, never served
        ("GET", "/../secret.txt"),
        ("GET", "/%2e%2e/secret.txt"),
        ("GET", "/nothing-here"),
    ],
)
def test_everything_else_reaches_the_app(assets: StaticAssets, method: str, path: str) -> None:
    reply = get(assets, path, method)
    assert reply.status == 401 and b"the app got" in reply.body


def test_the_shipped_config_serves_the_pages_and_guards_the_api(tmp_path: Path) -> None:
    config = read_asset_config(ROOT)
    assert config is not None and config.directory == (ROOT / "public").resolve()
    local = build_local_app(ROOT, "emulator", environ={"KEYS_FILE": str(tmp_path / "keys.json")})
    assert local.asgi is not None
    page = run(request(local.asgi, "GET", "/"))
    assert page.status == 200 and b"playground.js" in page.body
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert run(request(local.asgi, "GET", "/docs")).status == 200
    assert run(request(local.asgi, "GET", "/v1/models")).status == 401  # the API always wants a key
    assert run(request(local.asgi, "GET", "/openapi.json")).status == 200  # public, like /healthz
