"""Function tools as the model's input schema wants them: every dialect's tools are sent so."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["upstream_tool"]


def upstream_tool(function: Mapping[str, Any]) -> dict[str, Any]:
    """A function tool as the model's input schema wants it: `description` and `parameters` (an
    object schema with `type` and `properties`) are required there, so a tool that leaves them out
    gets the empty ones that mean the same (no description; no arguments)."""
    parameters = dict(function.get("parameters") or {})
    parameters.setdefault("type", "object")
    parameters.setdefault("properties", {})
    spec = {"name": function["name"], "description": function.get("description") or "", "parameters": parameters}
    return {"type": "function", "function": spec}
