"""The parameter policy every dialect applies to its request fields: honoured, ignored, or refused.

Real clients send hints, metadata and features they can live without; strictness that breaks a
real client is a bug (DESIGN.md, "Real clients are the measure"). So a field is refused only when
ignoring it would silently change a result the client relies on, and every field that is accepted
without being acted on is named in `x-gateway-ignored` and on the log line.
"""

from __future__ import annotations

from typing import Any

from ._asgi.context import context_of
from ._asgi.http import Scope
from ._asgi.schema import Obj, Spec, check
from ._config import settings_of
from ._errors import InvalidRequest

__all__ = ["HARMLESS", "FieldPolicy", "check_fields"]


class FieldPolicy:
    """What one endpoint does with each request field: the three classes of README's policy tables.

    - `honoured`: checked against its spec and acted on, as OpenAI's API does;
    - `ignored`: accepted and not acted on, because it changes no result the client relies on
      (hints, metadata); named in the `x-gateway-ignored` header and on the log line. A dotted
      name (`text.verbosity`) is a field inside an honoured object;
    - `refused`: a 400 naming the field, because ignoring it would silently change a result the
      client depends on; a value that asks for what the gateway does anyway (`n: 1`) is accepted.
    A field in none of them is unknown: ignored and reported like the others, or refused when the
    operator sets `STRICT_PARAMS=true`. `required` maps the honoured fields a request must set to
    what to send.

    The same tables are the API reference (gateway/_reference.py renders them as JSON Schema), so
    the document and the checks agree.
    """

    __slots__ = ("honoured", "ignored", "refused", "required")

    def __init__(
        self,
        honoured: dict[str, Spec],
        ignored: dict[str, str],
        refused: dict[str, str],
        required: dict[str, str] | None = None,
    ) -> None:
        self.honoured, self.ignored, self.refused = honoured, ignored, refused
        self.required = required or {}


# Values that ask for exactly what the gateway does anyway, so accepting them changes nothing.
HARMLESS: dict[str, tuple[Any, ...]] = {
    "logprobs": (False,),
    "top_logprobs": (0,),
    "n": (1,),
    "best_of": (1,),
    "background": (False,),
    "modalities": (["text"],),
    "logit_bias": ({},),
    "suffix": ("",),
}


def _harmless(name: str, value: Any) -> bool:
    return any(value == ok and type(value) is type(ok) for ok in HARMLESS.get(name, ()))


def check_fields(scope: Scope, body: dict[str, Any], policy: FieldPolicy) -> None:
    """Apply the endpoint's policy to a body: refuse what must be, report what is ignored, and check
    the honoured fields against their specs. OpenAI's optional fields are nullable: null means
    "not set", as OpenAI's API reads it, so a null field is neither checked nor reported."""
    for name, what in policy.required.items():
        if body.get(name) is None:
            raise InvalidRequest(f"`{name}` is required: {what}.", param=name)
    ignored: list[str] = []
    for name, value in body.items():
        if value is None or name in policy.honoured:
            continue
        if name in policy.refused:
            if not _harmless(name, value):
                raise InvalidRequest(
                    f"`{name}` is not supported by this gateway: {policy.refused[name]}",
                    param=name,
                    code="unsupported_parameter",
                )
            continue
        if name not in policy.ignored and settings_of(scope).strict_params:
            raise InvalidRequest(
                f"Unrecognized request argument supplied: `{name}`. Supported: {', '.join(sorted(policy.honoured))} "
                "(this gateway refuses unknown fields because STRICT_PARAMS is set).",
                param=name,
                code="unknown_parameter",
            )
        ignored.append(name)
    honoured = {name: value for name, value in body.items() if name in policy.honoured and value is not None}
    ignored += _drop_nested_ignored(honoured, policy)
    check(honoured, Obj(dict(policy.honoured)))
    if ignored:
        context_of(scope).note_ignored(ignored)


def _drop_nested_ignored(honoured: dict[str, Any], policy: FieldPolicy) -> list[str]:
    """Take ignored fields out of the honoured objects that hold them (so their specs stay closed)."""
    found = []
    for dotted in policy.ignored:
        parent, _, child = dotted.partition(".")
        holder = honoured.get(parent)
        if child and isinstance(holder, dict) and holder.get(child) is not None:
            honoured[parent] = {key: value for key, value in holder.items() if key != child}
            found.append(dotted)
    return found
