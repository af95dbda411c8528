"""Real Chromium (Debian's package) driven by Playwright, against `gateway serve` on the emulator.

Playwright's own browser download cannot work offline, so it drives `/usr/bin/chromium` (`.ci/run`
installs it), headless, with the switches that stop Chromium's background traffic. A test that
finds no Chromium fails: it is never skipped. Screenshots go to test-artifacts/ (git-ignored).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, Request, sync_playwright

from gateway.local.keygen import key_entry
from tests.local.conftest import ROOT, Server, free_port, running_server

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
# A second name for 127.0.0.1, so the page can be loaded from another origin than the API's.
OTHER_HOST = "playground.test"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-default-apps",
    f"--host-resolver-rules=MAP {OTHER_HOST} 127.0.0.1",
]

KEY = "gw-browser-test-key-0123456789abcdef"
TIGHT_KEY = "gw-browser-test-tight-0123456789abcdef"
TIERS = {
    "default": {"requests": 100000, "period": 60, "tokens_per_minute": 100000000},
    "tight": {"requests": 1, "period": 60},
}


@dataclass
class Gateway:
    server: Server
    port: int
    key: str = KEY
    tight_key: str = TIGHT_KEY

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def other_origin(self) -> str:
        return f"http://{OTHER_HOST}:{self.port}"


@dataclass
class Watched:
    """A page and what it did: console messages, requests, failed requests."""

    page: Page
    console: list[ConsoleMessage] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def errors(self) -> list[str]:
        return [f"{m.type}: {m.text}" for m in self.console if m.type in ("error", "warning")]


@pytest.fixture(scope="module")
def gateway() -> Iterator[Gateway]:
    port = free_port()
    keys = [key_entry("browser", KEY), {**key_entry("tight", TIGHT_KEY), "tier": "tight"}]
    with running_server(
        port=port,
        GATEWAY_KEYS=json.dumps(keys),
        TIERS=json.dumps(TIERS),
        EMULATOR_TOKEN_DELAY_MS="60",
        CORS_ORIGINS=f"http://{OTHER_HOST}:{port}",
    ) as server:
        yield Gateway(server=server, port=port)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert shutil.which(CHROMIUM) or Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install chromium"
    playwright: Playwright
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def watched(browser: Browser) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    seen = Watched(page)
    page.on("console", lambda message: seen.console.append(message))
    page.on("request", lambda request: seen.requests.append(request))
    page.on("requestfailed", lambda request: seen.failed.append(f"{request.url}: {request.failure}"))
    yield seen
    context.close()


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=False)
    return path


def log_records(server: Server, **match: Any) -> list[dict[str, Any]]:
    return [r for r in server.log_records() if all(r.get(k) == v for k, v in match.items())]
