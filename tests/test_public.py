"""The pages in public/: what they load exists, and the vendored libraries are the locked ones.

public/vendor/ is made by scripts/vendor-assets.mjs from node_modules (npm ci runs it); these
tests fail, never skip, when it is missing or stale.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PUBLIC = ROOT / "public"


def _versions() -> dict[str, dict[str, object]]:
    path = PUBLIC / "vendor" / "VERSIONS.json"
    assert path.is_file(), "public/vendor/ is missing: run `npm ci` (or `npm run vendor`)"
    versions: dict[str, dict[str, object]] = json.loads(path.read_text())
    return versions


def test_the_vendored_libraries_are_exactly_the_locked_versions() -> None:
    lock = json.loads((ROOT / "package-lock.json").read_text())["packages"]
    pinned = json.loads((ROOT / "package.json").read_text())["devDependencies"]
    for name, entry in _versions().items():
        assert entry["version"] == lock[f"node_modules/{name}"]["version"] == pinned[name], name
        files = entry["files"]
        assert isinstance(files, dict)
        for relative, digest in files.items():
            assert hashlib.sha256((PUBLIC / "vendor" / relative).read_bytes()).hexdigest() == digest, relative


@pytest.mark.parametrize("page", ["index.html", "docs.html"])
def test_everything_a_page_loads_is_a_relative_file_that_exists(page: str) -> None:
    html = (PUBLIC / page).read_text()
    references = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert references
    for reference in references:
        assert not reference.startswith(("/", "http:", "https:", "//")), f"{page}: {reference} is not relative"
        if reference in ("docs", "./", "openapi.json") or reference.startswith("#"):
            continue  # pages and the document, served by the gateway
        assert (PUBLIC / reference).is_file(), f"{page} loads {reference}, which does not exist"


def test_the_playground_imports_only_vendored_modules() -> None:
    script = (PUBLIC / "playground.js").read_text()
    for module in re.findall(r'^import .* from "([^"]+)";', script, flags=re.MULTILINE):
        assert module.startswith("./vendor/") and (PUBLIC / module).is_file(), module
