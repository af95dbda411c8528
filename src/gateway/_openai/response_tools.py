"""Responses `tools` and `tool_choice`, as the messages form's function tools.

- `function` tools are offered as they are.
- A `namespace` groups function tools (Codex sends one). The messages form has no namespaces, so
  each member is offered under a flat name, `<namespace>__<name>`: Codex's own canonical flat name
  for a namespaced tool (codex-rs `ToolName::canonical_flat_name`). A call of a flat name comes
  back as OpenAI's API represents a namespaced call: `name` the function, `namespace` the group
  (openai SDK: `ResponseFunctionToolCall.namespace`).
- Built-in tools (`web_search`, `file_search`, `code_interpreter`, `computer_use`,
  `image_generation`, `mcp`, ...) and `custom` tools do not run here: they are left out of what
  the model sees, and named in `x-gateway-ignored` (`tools.web_search`).
- A `tool_choice` that forces a tool the gateway cannot run is refused; `allowed_tools` narrows
  the offered functions, as OpenAI's API does.
"""

from __future__ import annotations

from typing import Any

from .._asgi.schema import AnyOf, Array, Bool, Null, Obj, Str
from .._errors import InvalidRequest
from .._upstream.tools import upstream_tool
from .request import check_tool_choice

__all__ = ["ToolSet", "flat_name", "tool_set"]

_FUNCTION = Obj(
    {
        "type": Str(enum=("function",)),
        "name": Str(min_length=1),
        "description": AnyOf((Str(), Null())),
        "parameters": AnyOf((Obj(closed=False), Null())),
        "strict": AnyOf((Bool(), Null())),
    },
    required=("type", "name"),
    closed=False,  # `defer_loading`, `output_schema` and the like change nothing the model is told
)
_NAMESPACE = Obj(
    {
        "type": Str(enum=("namespace",)),
        "name": Str(min_length=1),
        "description": AnyOf((Str(), Null())),
        "tools": Array(Obj({"type": Str(min_length=1)}, required=("type",), closed=False)),
    },
    required=("type", "name", "tools"),
)
_FORCED = Obj({"type": Str(min_length=1)}, required=("type",), closed=False)


def flat_name(namespace: str | None, name: str) -> str:
    """What the model calls a tool: its name, or `<namespace>__<name>` inside a namespace."""
    return name if not namespace else f"{namespace.rstrip('_')}__{name.lstrip('_')}"


class ToolSet:
    """The function tools offered to the model, by the flat names it calls them."""

    __slots__ = ("choice", "functions", "namespaced")

    def __init__(self) -> None:
        self.functions: dict[str, dict[str, Any]] = {}  # flat name -> the messages form's tool
        self.namespaced: dict[str, tuple[str, str]] = {}  # flat name -> (namespace, name)
        self.choice: Any = None  # the messages form's tool_choice, or None

    @property
    def names(self) -> set[str]:
        return set(self.functions)

    def tools(self) -> list[dict[str, Any]]:
        return list(self.functions.values())

    def call_of(self, flat: str) -> tuple[str, str | None]:
        """(name, namespace) of a call the model made by its flat name."""
        namespace, name = self.namespaced.get(flat, (None, flat))
        return name, namespace

    def offer(self, tool: dict[str, Any], where: str, namespace: str | None) -> None:
        """Offer one function tool (checked), under its flat name."""
        _FUNCTION.check(tool, where)
        flat = flat_name(namespace, tool["name"])
        if flat in self.functions:
            raise InvalidRequest(f"`{where}` offers {flat!r} a second time; tool names must be unique.", param=where)
        self.functions[flat] = upstream_tool({**tool, "name": flat})
        if namespace:
            self.namespaced[flat] = (namespace, tool["name"])


def _kind(tool: Any, where: str) -> str:
    if not isinstance(tool, dict) or not isinstance(tool.get("type"), str):
        raise InvalidRequest(f"`{where}` must be a tool object with a `type`.", param=where)
    kind: str = tool["type"]
    return kind


def _offer_all(tools: list[Any], ignored: list[str]) -> ToolSet:
    offered = ToolSet()
    for index, tool in enumerate(tools):
        where = f"tools[{index}]"
        kind = _kind(tool, where)
        if kind == "function":
            offered.offer(tool, where, None)
        elif kind == "namespace":
            _NAMESPACE.check(tool, where)
            for inner, member in enumerate(tool["tools"]):
                if member["type"] == "function":
                    offered.offer(member, f"{where}.tools[{inner}]", tool["name"])
                else:
                    ignored.append(f"tools.{member['type']}")
        else:
            ignored.append(f"tools.{kind}")
    return offered


def _forced_name(choice: dict[str, Any], offered: ToolSet) -> str:
    """The flat name a `{"type": "function", "name": ...}` choice forces (a namespaced member may be
    named by its flat name, or by its own name where that is unambiguous)."""
    name = choice.get("name")
    namespace = choice.get("namespace")
    wanted = flat_name(namespace, name) if isinstance(namespace, str) and isinstance(name, str) else name
    if wanted in offered.functions:
        return str(wanted)
    matches = [flat for flat, (_, plain) in offered.namespaced.items() if plain == wanted]
    if len(matches) == 1:
        return matches[0]
    check_tool_choice({"type": "function", "name": wanted}, offered.names)  # raises: not offered
    return str(wanted)


def _allowed(choice: dict[str, Any], offered: ToolSet) -> str:
    """`allowed_tools`: offer only the listed functions; its mode is the choice."""
    mode = choice.get("mode")
    if mode not in ("auto", "required") or not isinstance(choice.get("tools"), list):
        raise InvalidRequest(
            '`tool_choice` of type allowed_tools needs `mode` ("auto" or "required") and a `tools` list.',
            param="tool_choice",
        )
    keep = set()
    for entry in choice["tools"]:
        if isinstance(entry, dict) and entry.get("type") == "function":
            keep.add(_forced_name(entry, offered))
    offered.functions = {flat: tool for flat, tool in offered.functions.items() if flat in keep}
    return str(mode)


def _choice(choice: Any, offered: ToolSet) -> Any:
    if choice is None or isinstance(choice, str):
        check_tool_choice(choice, offered.names)
        return choice
    _FORCED.check(choice, "tool_choice")
    kind = choice["type"]
    if kind == "function":
        return {"type": "function", "function": {"name": _forced_name(choice, offered)}}
    if kind == "allowed_tools":
        mode = _allowed(choice, offered)
        check_tool_choice(mode, offered.names)
        return mode
    raise InvalidRequest(
        f"`tool_choice` forces a {kind!r} tool, which this gateway cannot run (only function tools run here, "
        'by the client); force a function, or send "auto".',
        param="tool_choice",
        code="unsupported_parameter",
    )


def tool_set(tools: Any, choice: Any, ignored: list[str]) -> ToolSet:
    """The functions to offer and the choice to send; what is left out is added to `ignored`."""
    offered = _offer_all(tools or [], ignored)
    offered.choice = _choice(choice, offered)
    return offered
