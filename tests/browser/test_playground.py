"""The playground in real Chromium: it loads clean, streams, stops, shows errors, runs a tool demo,
works under a path prefix and from another origin, and stays usable by keyboard and on a phone."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from playwright.sync_api import Page, Route, expect

from gateway.local.keygen import key_entry
from tests.browser.conftest import KEY, Gateway, Watched, log_records, screenshot
from tests.local.conftest import running_server

ANSWER = ".turn.assistant"
DONE = ".turn.assistant[aria-busy=false]"

# Records, in the page, every distinct text of the newest answer (reasoning and answer) and when.
WATCH_UPDATES = """() => {
  window.__updates = [];
  const seen = new Set();
  const record = () => {
    const turns = document.querySelectorAll('.turn.assistant');
    const turn = turns[turns.length - 1];
    if (!turn) return;
    const text = (turn.querySelector('.reasoning-text')?.textContent || '') + '|'
      + turn.querySelector('.answer').textContent;
    if (seen.has(text)) return;
    seen.add(text);
    window.__updates.push({text, busy: turn.getAttribute('aria-busy'), at: performance.now()});
  };
  const all = {subtree: true, childList: true, characterData: true, attributes: true};
  new MutationObserver(record).observe(document.getElementById('transcript'), all);
}"""


def wait_until(page: Page, condition: str, timeout_s: float = 15) -> None:
    # Polled from here: page.wait_for_function evaluates a string in the page, which the page's
    # Content-Security-Policy (no unsafe-eval) rightly refuses.
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(condition):
        assert time.monotonic() < deadline, f"timed out waiting for {condition}"
        time.sleep(0.02)


def open_page(watched: Watched, url: str, key: str | None) -> Page:
    page = watched.page
    page.goto(url)
    expect(page.locator("#model option")).to_have_count(1)
    if key is not None:
        page.fill("#api-key", key)
    return page


def ask(page: Page, text: str, *, api: str = "chat", stream: bool = True, tools: bool = False) -> None:
    page.select_option("#api", api)
    page.set_checked("#stream", stream)
    page.set_checked("#tools", tools)
    page.fill("#prompt", text)
    page.click("#send")


def stats(page: Page, turn: int = -1) -> dict[str, str]:
    found: dict[str, str] = (
        page.locator(ANSWER)
        .nth(turn)
        .locator(".stats")
        .evaluate(
            """dl => Object.fromEntries([...dl.querySelectorAll('div')].map(
                 d => [d.querySelector('dt').textContent, d.querySelector('dd').textContent]))"""
        )
    )
    return found


def test_the_page_loads_with_no_console_errors_and_no_failed_requests(gateway: Gateway, watched: Watched) -> None:
    page = open_page(watched, gateway.url + "/", None)
    page.wait_for_load_state("networkidle")
    assert watched.errors() == [] and watched.failed == []
    assert all(r.url.startswith(gateway.url) for r in watched.requests), [r.url for r in watched.requests]
    expect(page.locator("#emulator-banner")).to_be_visible()
    expect(page.locator("#emulator-banner")).to_contain_text("emulator")
    expect(page.locator("#backend")).to_contain_text("emulator")
    assert page.title().startswith("gpt-oss gateway")


def test_a_streamed_chat_shows_ten_updates_before_it_completes_then_usage_and_cost(
    gateway: Gateway, watched: Watched
) -> None:
    page = open_page(watched, gateway.url + "/", gateway.key)
    page.evaluate(WATCH_UPDATES)
    ask(page, "Tell me about server-sent events and why gateways relay them as they arrive.")
    wait_until(page, "document.querySelector('.turn.assistant .answer').textContent.split(' ').length >= 6")
    screenshot(page, "playground-mid-answer.png")
    page.wait_for_selector(DONE)
    updates: list[dict[str, Any]] = page.evaluate("window.__updates")
    before_done = [u for u in updates if u["busy"] == "true"]
    assert len(before_done) >= 10, len(before_done)
    assert before_done[-1]["at"] - before_done[0]["at"] > 300  # spread over time, not one burst
    figures = stats(page)
    assert figures["Tokens"].endswith("out") and figures["Cost"].startswith("$")
    assert int(figures["Time to first token"].split()[0]) >= 0 and float(figures["Tokens/s"]) > 0
    assert figures["Rate limits"].startswith("requests ") and "tokens/min" in figures["Rate limits"]
    expect(page.locator(ANSWER).locator(".answer")).to_contain_text("emulator")
    assert watched.errors() == []


def test_reasoning_is_shown_apart_from_the_answer_and_collapsible(gateway: Gateway, watched: Watched) -> None:
    page = open_page(watched, gateway.url + "/", gateway.key)
    ask(page, "Hello there")
    page.wait_for_selector(DONE)
    turn = page.locator(ANSWER).last
    reasoning = turn.locator("details.reasoning")
    expect(reasoning).to_be_visible()
    assert reasoning.get_attribute("open") is None  # collapsed until asked for
    expect(turn.locator(".reasoning-text")).to_be_hidden()
    reasoning.locator("summary").click()
    expect(turn.locator(".reasoning-text")).to_contain_text("Reasoning effort is medium")
    assert "Reasoning effort" not in turn.locator(".answer").inner_text()


def test_the_stop_button_ends_the_stream_and_the_server_logs_the_disconnect(gateway: Gateway, watched: Watched) -> None:
    page = open_page(watched, gateway.url + "/", gateway.key)
    page.evaluate(WATCH_UPDATES)
    ask(page, "Stop-test " + "words to echo back slowly " * 8)
    wait_until(page, "window.__updates.length >= 3")
    page.click("#stop")
    page.wait_for_selector(DONE)
    expect(page.locator(ANSWER).last).to_contain_text("Stopped")
    expect(page.locator("#stop")).to_be_disabled()
    expect(page.locator("#send")).to_be_enabled()
    count = len(page.evaluate("window.__updates"))
    page.wait_for_timeout(800)
    assert len(page.evaluate("window.__updates")) == count  # nothing arrives after the stop
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        lines = log_records(gateway.server, path="/v1/chat/completions", error="client disconnected")
        if lines:
            break
        time.sleep(0.1)
    assert lines, gateway.server.output[-5:]
    assert lines[-1]["streamed"] is True and lines[-1]["key"] == "browser"


def test_a_wrong_key_shows_the_gateways_401_message(gateway: Gateway, watched: Watched) -> None:
    page = open_page(watched, gateway.url + "/", "gw-not-a-real-key")
    ask(page, "hi")
    error = page.locator(ANSWER).last.locator(".error")
    expect(error).to_contain_text("401: The API key is not valid.")
    expect(error).to_have_attribute("role", "alert")
    ask(page, "still fine?")  # the page is still usable
    expect(page.locator(".turn.user")).to_have_count(2)


def test_a_429_says_when_to_retry(gateway: Gateway, watched: Watched) -> None:
    page = open_page(watched, gateway.url + "/", gateway.tight_key)
    ask(page, "first")
    page.wait_for_selector(DONE)
    ask(page, "second")
    error = page.locator(ANSWER).nth(1).locator(".error")
    expect(error).to_contain_text("429")
    expect(error).to_contain_text("Retry after")


def test_a_400_names_the_field(gateway: Gateway, watched: Watched) -> None:
    page = open_page(watched, gateway.url + "/", gateway.key)
    page.fill("#max-tokens", "500000")
    ask(page, "hi")
    error = page.locator(ANSWER).last.locator(".error")
    expect(error).to_contain_text("400")
    expect(error).to_contain_text("(field: max_completion_tokens)")


def test_the_tool_call_demo_completes_a_round_trip(gateway: Gateway, watched: Watched) -> None:
    page = open_page(watched, gateway.url + "/", gateway.key)
    ask(page, "Use get_weather for Paris please", tools=True)
    expect(page.locator(DONE)).to_have_count(2, timeout=20_000)
    call = page.locator(ANSWER).first.locator(".tool")
    expect(call).to_contain_text("Tool call: get_weather")
    expect(call.locator(".tool-result")).to_contain_text('"city"')
    expect(page.locator(ANSWER).nth(1).locator(".answer")).to_contain_text("The tool returned")


@pytest.mark.parametrize("api", ["chat", "responses", "native"])
@pytest.mark.parametrize("stream", [True, False])
def test_every_api_answers_with_usage(gateway: Gateway, watched: Watched, api: str, stream: bool) -> None:
    page = open_page(watched, gateway.url + "/", gateway.key)
    ask(page, "Hello in one line", api=api, stream=stream)
    page.wait_for_selector(DONE)
    turn = page.locator(ANSWER).last
    expect(turn.locator(".answer")).to_contain_text("emulator")
    expect(turn.locator(".reasoning")).to_be_visible()
    assert stats(page)["Cost"].startswith("$")
    ask(page, "And a second turn", api=api, stream=stream)  # multi-turn: the history goes along
    expect(page.locator(DONE)).to_have_count(2)
    expect(page.locator(ANSWER).last.locator(".answer")).to_contain_text("And a second turn")
    assert watched.errors() == []


def test_it_works_under_a_path_prefix(gateway: Gateway, watched: Watched) -> None:
    # A reverse proxy that serves the gateway under /gw/.
    def proxy(route: Route) -> None:
        target = route.request.url.replace(gateway.url + "/gw/", gateway.url + "/", 1)
        route.fulfill(response=route.fetch(url=target))

    watched.page.route(gateway.url + "/gw/**", proxy)
    page = open_page(watched, gateway.url + "/gw/", gateway.key)
    ask(page, "Hello from under a prefix")
    page.wait_for_selector(DONE)
    expect(page.locator(ANSWER).last.locator(".answer")).to_contain_text("prefix")
    paths = [r.url.removeprefix(gateway.url) for r in watched.requests]
    assert "/gw/v1/chat/completions" in paths and "/v1/chat/completions" not in paths
    assert all(path.startswith("/gw/") for path in paths), paths


def test_it_works_from_another_origin_allowed_by_cors(gateway: Gateway, watched: Watched) -> None:
    page = open_page(watched, gateway.other_origin + "/", gateway.key)
    page.fill("#gateway-url", gateway.url + "/")
    page.dispatch_event("#gateway-url", "change")
    ask(page, "Hello across origins")
    page.wait_for_selector(DONE)
    expect(page.locator(ANSWER).last.locator(".answer")).to_contain_text("across origins")
    assert "requests " in stats(page)["Rate limits"]  # the x-ratelimit-* headers are exposed by CORS
    assert any(r.url == gateway.url + "/v1/chat/completions" for r in watched.requests)
    assert watched.errors() == []


def test_the_key_stays_in_session_storage_never_in_a_url_or_the_log(gateway: Gateway, watched: Watched) -> None:
    page = open_page(watched, gateway.url + "/", gateway.key)
    ask(page, "keep my key safe")
    page.wait_for_selector(DONE)
    assert page.evaluate("sessionStorage.getItem('gateway-playground-key')") == gateway.key
    assert page.evaluate("JSON.stringify(localStorage)") == "{}"
    assert not any(gateway.key in r.url for r in watched.requests)
    assert gateway.key not in "".join(gateway.server.output)
    page.click("#forget-key")
    assert page.evaluate("sessionStorage.getItem('gateway-playground-key')") is None


def test_it_is_usable_by_keyboard_alone(gateway: Gateway, watched: Watched) -> None:
    page = open_page(watched, gateway.url + "/", gateway.key)
    unlabelled = page.evaluate(
        """[...document.querySelectorAll('input, select, textarea')]
             .filter(e => !e.labels || !e.labels.length).map(e => e.id)"""
    )
    assert unlabelled == []
    page.focus("#prompt")
    page.keyboard.type("typed with the keyboard")
    page.keyboard.press("Enter")
    page.wait_for_selector(".turn.assistant")
    page.keyboard.press("Escape")  # stops the stream
    page.wait_for_selector(DONE)
    expect(page.locator(".turn.user")).to_contain_text("typed with the keyboard")
    # Tab reaches every control, in order, without a trap.
    reached = set()
    for _ in range(40):
        page.keyboard.press("Tab")
        reached.add(page.evaluate("document.activeElement.id"))
    assert {"api-key", "api", "model", "effort", "max-tokens", "stream", "tools", "prompt", "send"} <= reached


def _contrast(page: Page, selector: str) -> float:
    ratio: float = page.evaluate(
        """sel => {
          const el = document.querySelector(sel);
          const rgb = s => s.match(/[\\d.]+/g).slice(0, 3).map(Number);
          const channel = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
          const lum = c => { const [r, g, b] = c.map(channel); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
          let node = el, bg = 'rgba(0, 0, 0, 0)';
          while (node && /rgba\\(0, 0, 0, 0\\)|transparent/.test(bg)) {
            bg = getComputedStyle(node).backgroundColor;
            node = node.parentElement;
          }
          const [a, b] = [lum(rgb(getComputedStyle(el).color)), lum(rgb(bg))].sort((x, y) => y - x);
          return (a + 0.05) / (b + 0.05);
        }""",
        selector,
    )
    return ratio


def test_text_has_readable_contrast(gateway: Gateway, watched: Watched) -> None:
    page = open_page(watched, gateway.url + "/", gateway.key)
    for selector in ("h1", "#emulator-banner", ".hint", "label[for=api]", "#send", "#clear", ".top a"):
        assert _contrast(page, selector) >= 4.5, selector


def test_it_is_usable_on_a_phone_width_screen(gateway: Gateway, watched: Watched) -> None:
    page = watched.page
    page.set_viewport_size({"width": 375, "height": 740})
    open_page(watched, gateway.url + "/", gateway.key)
    ask(page, "Hello from a phone")
    page.wait_for_selector(DONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    box = page.locator("#send").bounding_box()
    assert box is not None and box["width"] >= 44 and box["height"] >= 24  # a finger can hit it
    screenshot(page, "playground-phone.png")


def test_an_answer_from_the_fallback_is_named_priced_at_its_rates_with_dollar_limits(watched: Watched) -> None:
    big, small = "@cf/openai/gpt-oss-120b", "@cf/openai/gpt-oss-20b"
    with running_server(
        GATEWAY_KEYS=json.dumps([key_entry("browser", KEY)]),
        TIERS=json.dumps({"default": {"requests": 100, "period": 60, "usd_per_day": 1}}),
        MODELS=f"{big},{small}",
        FALLBACK_MODEL=small,
        CAPACITY_RETRIES="0",
        EMULATOR_FAULTS="capacity=1",  # the first model call meets "out of capacity"
        EMULATOR_TOKEN_DELAY_MS="0",
    ) as server:
        page = watched.page
        page.goto(server.url + "/")
        expect(page.locator("#model option")).to_have_count(2)
        assert page.input_value("#model") == big
        page.fill("#api-key", KEY)
        ask(page, "Hello from a busy model", stream=False)
        page.wait_for_selector(DONE)
        figures = stats(page)
        (record,) = log_records(server, path="/v1/chat/completions")
        assert record["model"] == small and record["fallback_from"] == big
        assert figures["Answered by"] == f"{small} (fallback for {big})"
        assert figures["Cost"] == f"${record['cost_usd']:.6f}", "priced at the fallback's rates, as the log line"
        assert "USD/day " in figures["Rate limits"] and "/1, resets in" in figures["Rate limits"]
        assert watched.errors() == []
