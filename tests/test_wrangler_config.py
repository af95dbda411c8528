"""wrangler.toml declares every binding the gateway uses, and its tiers agree with their bindings."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from gateway._app import ROUTES
from gateway._config import read_settings
from gateway._limits.bindings import BUDGETS_BINDING, CEILING_BINDING, USAGE_BINDING
from gateway._policy import binding_name
from gateway._stored.bindings import STORE_BINDING
from gateway.local.assets import read_asset_config

ROOT = Path(__file__).resolve().parents[1]


def _config() -> dict[str, Any]:
    with (ROOT / "wrangler.toml").open("rb") as handle:
        return tomllib.load(handle)


def test_the_shipped_variables_parse_without_problems() -> None:
    settings = read_settings(SimpleNamespace(**_config()["vars"]))
    assert settings.problems == () and settings.tiers
    assert settings.limits_fail_open is False


def test_every_tier_with_a_request_limit_has_its_binding_with_the_same_limit() -> None:
    config = _config()
    declared = {entry["name"]: entry["simple"] for entry in config.get("ratelimits", [])}
    for tier in read_settings(SimpleNamespace(**config["vars"])).tiers.values():
        if tier.requests is not None:
            assert declared[binding_name(tier.name)] == {"limit": tier.requests, "period": tier.period}


def test_the_account_ceiling_has_its_binding_with_the_same_limit_per_minute() -> None:
    config = _config()
    settings = read_settings(SimpleNamespace(**config["vars"]))
    declared = {entry["name"]: entry["simple"] for entry in config.get("ratelimits", [])}
    if settings.account_requests_per_minute is None:
        assert CEILING_BINDING not in declared, "a ceiling binding nothing reads: set ACCOUNT_REQUESTS_PER_MINUTE"
        return
    assert declared[CEILING_BINDING] == {"limit": settings.account_requests_per_minute, "period": 60}


def test_no_tier_can_share_the_ceilings_binding_and_no_two_bindings_share_a_namespace() -> None:
    config = _config()
    tiers = read_settings(SimpleNamespace(**config["vars"])).tiers
    assert CEILING_BINDING not in {binding_name(name) for name in tiers}
    namespaces = [entry["namespace_id"] for entry in config.get("ratelimits", [])]
    assert len(namespaces) == len(set(namespaces)), "each Rate Limiting binding counts in its own namespace"


def test_the_optional_operator_variables_parse_as_documented() -> None:
    # wrangler.toml ships them commented out; the documented values must be accepted as they are.
    commented = {
        line.lstrip("# ").split(" = ")[0]: line.split('"')[1]
        for line in (ROOT / "wrangler.toml").read_text().splitlines()
        if line.startswith("# ") and ' = "' in line and line.lstrip("# ").split(" = ")[0].isupper()
    }
    assert set(commented) >= {"AI_GATEWAY_ID", "FALLBACK_MODEL"}
    models = "@cf/openai/gpt-oss-120b,@cf/openai/gpt-oss-20b"
    settings = read_settings(SimpleNamespace(**{**_config()["vars"], **commented, "MODELS": models}))
    assert settings.problems == ()
    assert (settings.ai_gateway_id, settings.fallback_model) == (
        commented["AI_GATEWAY_ID"],
        commented["FALLBACK_MODEL"],
    )


def test_the_budget_object_is_bound_exported_and_sqlite_backed() -> None:
    config = _config()
    [binding] = [b for b in config["durable_objects"]["bindings"] if b["name"] == BUDGETS_BINDING]
    assert binding["class_name"] == "TokenBudget"
    assert any("TokenBudget" in m.get("new_sqlite_classes", []) for m in config["migrations"])
    assert "TokenBudget" in (ROOT / "src" / "entry.py").read_text()


def test_usage_goes_to_analytics_engine() -> None:
    assert [d["binding"] for d in _config()["analytics_engine_datasets"]] == [USAGE_BINDING]


def test_the_response_store_is_bound_exported_sqlite_backed_and_in_its_own_migration() -> None:
    config = _config()
    [binding] = [b for b in config["durable_objects"]["bindings"] if b["name"] == STORE_BINDING]
    assert binding["class_name"] == "StoredResponses"
    tags = [m["tag"] for m in config["migrations"]]
    assert len(tags) == len(set(tags)), "each migration has its own tag"
    [migration] = [m for m in config["migrations"] if "StoredResponses" in m.get("new_sqlite_classes", [])]
    assert migration["tag"] != "v1", "a deployed v1 migration is never edited: the new class has its own"
    assert "StoredResponses" in (ROOT / "src" / "entry.py").read_text()
    settings = read_settings(SimpleNamespace(**config["vars"]))
    assert settings.responses_retention_s == 30 * 86_400 and settings.responses_max_bytes == 1_048_576


def test_every_route_runs_the_worker_first_so_no_file_can_shadow_it() -> None:
    assets = read_asset_config(ROOT)
    assert assets is not None
    patterns = _config()["assets"]["run_worker_first"]
    for route in ROUTES:
        path = route.path.replace("{model:path}", "@cf/openai/gpt-oss-120b")
        paths = [path, "/client/v4/accounts/abc" + path] if path.startswith("/ai/") else [path]
        for served in paths:
            assert any(fnmatch.fnmatchcase(served, pattern) for pattern in patterns), served


def test_the_pages_are_static_assets_and_unknown_paths_reach_the_worker() -> None:
    assets = _config()["assets"]
    assert (ROOT / assets["directory"] / "index.html").is_file()
    assert (ROOT / assets["directory"] / "docs.html").is_file()
    # "none": a path that is no file goes to the Worker, so an API 404 stays the gateway's JSON error.
    assert assets["not_found_handling"] == "none"
    assert assets["html_handling"] == "auto-trailing-slash"


def test_workers_logs_keep_the_log_lines_at_a_stated_sampling_rate() -> None:
    observability = _config()["observability"]
    assert observability["enabled"] is True
    assert 0 < observability["head_sampling_rate"] <= 1
