"""The API reference at /docs in real Chromium: it renders every operation from /openapi.json,
offline (every request stays on the gateway's origin), with no console errors."""

from __future__ import annotations

import json

from playwright.sync_api import expect

from gateway._app import ROUTES
from tests.browser.conftest import Gateway, Watched, screenshot


def test_the_reference_renders_every_operation_offline(gateway: Gateway, watched: Watched) -> None:
    page = watched.page
    page.goto(gateway.url + "/docs")
    operations = page.locator(".opblock")
    expect(operations).to_have_count(sum(1 for route in ROUTES if route.operation is not None))
    expect(page.locator(".opblock-summary-path", has_text="/v1/chat/completions").first).to_be_visible()
    page.wait_for_load_state("networkidle")
    screenshot(page, "docs.png")
    assert watched.errors() == [] and watched.failed == []
    assert all(r.url.startswith(gateway.url) for r in watched.requests), [r.url for r in watched.requests]


def test_try_it_out_calls_this_gateway_with_the_key(gateway: Gateway, watched: Watched) -> None:
    page = watched.page
    page.goto(gateway.url + "/docs")
    page.click("button.authorize")
    page.locator(".auth-container input").first.fill(gateway.key)
    page.locator(".auth-btn-wrapper button.authorize").first.click()
    page.locator(".btn-done").first.click()
    models = page.locator(".opblock-get", has_text="/v1/models").first
    models.locator(".opblock-summary").click()
    models.locator("button.try-out__btn").click()
    with page.expect_response(gateway.url + "/v1/models") as answer:
        models.locator("button.execute").click()
    assert answer.value.status == 200
    assert json.loads(answer.value.body())["object"] == "list"
