"""The local server's configuration: wrangler.toml [vars], then .dev.vars, then the environment."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

__all__ = ["find_project_root", "load_env", "parse_dev_vars"]


def find_project_root(start: Path) -> Path:
    for directory in (start, *start.parents):
        if (directory / "wrangler.toml").is_file():
            return directory
    return start


def _wrangler_vars(root: Path) -> dict[str, str]:
    path = root / "wrangler.toml"
    if not path.is_file():
        return {}
    with path.open("rb") as handle:
        config = tomllib.load(handle)
    return {name: str(value) for name, value in (config.get("vars") or {}).items()}


def parse_dev_vars(text: str) -> dict[str, str]:
    """`.dev.vars` is dotenv: KEY=VALUE lines, optional quotes, # comments."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or "=" not in stripped:
            continue
        name, _, value = stripped.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name.strip().removeprefix("export ").strip()] = value
    return values


def load_env(root: Path, environ: dict[str, str] | None = None) -> dict[str, str]:
    """Later sources win, as with `wrangler dev`: [vars] < .dev.vars < the process environment."""
    merged = _wrangler_vars(root)
    dev_vars = root / ".dev.vars"
    if dev_vars.is_file():
        merged.update(parse_dev_vars(dev_vars.read_text()))
    merged.update(os.environ if environ is None else environ)
    return merged
