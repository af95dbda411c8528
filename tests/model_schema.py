"""The model page's input schema, and the check every body sent upstream in the tests must pass.

`tests/schemas/gpt-oss-input.schema.json` is the "API Schemas" input section of the model page for
`@cf/openai/gpt-oss-120b` (descriptions left out). It is enforced as written with one exception,
`ENFORCED` below: inside a tool's `parameters.properties`, the page asks each property for a string
`type` and a `description`. That is the client's own JSON Schema (a union type, `anyOf`, a property
without a description are all ordinary), Cloudflare's own AI SDK provider sends it as the client
wrote it, and rewriting it would change what the model is told; so it is passed on as it is.

A body of the batch-polling form (`{"request_id": ...}`, from the batch API's docs, not the model
page) is the one shape outside the schema that may go upstream.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

__all__ = ["ENFORCED", "SCHEMA", "UpstreamBodyInvalid", "check_upstream_body", "violations"]

SCHEMA: dict[str, Any] = json.loads((Path(__file__).parent / "schemas" / "gpt-oss-input.schema.json").read_text())


def _enforced(schema: dict[str, Any]) -> dict[str, Any]:
    relaxed = copy.deepcopy(schema)
    del relaxed["$defs"]["parameters"]["properties"]["properties"]["additionalProperties"]
    return relaxed


ENFORCED = _enforced(SCHEMA)
_VALIDATOR = Draft202012Validator(ENFORCED)


class UpstreamBodyInvalid(AssertionError):
    """A body sent upstream that the model's input schema refuses."""


def _is_poll(body: Any) -> bool:
    return isinstance(body, dict) and set(body) == {"request_id"} and isinstance(body["request_id"], str)


def violations(body: Any) -> list[str]:
    """What the schema says is wrong with this upstream body; empty when it is valid."""
    if _is_poll(body):
        return []
    found = []
    for error in _VALIDATOR.iter_errors(body):
        deepest = best_match([error])  # a oneOf failure says most through the branch that came closest
        found.append(f"/{'/'.join(map(str, deepest.absolute_path))}: {deepest.message}")
    return found


def check_upstream_body(body: Any) -> None:
    found = violations(body)
    if found:
        raise UpstreamBodyInvalid(f"sent upstream a body the model's input schema refuses: {found}; body: {body!r}")
