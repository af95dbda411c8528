"""A small router: exact paths, `{name}` path segments (response ids), and one trailing
`{name:path}` parameter for model names (which hold slashes).

Each route may carry an `Operation`: what the API reference says of it. The OpenAPI document is
generated from the route table and these, so a route is documented where it is declared.
"""

from __future__ import annotations

import re
from typing import Any

from .._errors import MethodNotAllowed, NotFound
from .._valueclass import FrozenRecord
from .context import context_of
from .http import ASGIApp, Receive, Scope, Send

__all__ = ["Operation", "Route", "Router", "without_account_prefix"]

# Cloudflare's REST paths start `/client/v4/accounts/{account_id}`; accepting them means a
# client of the REST API (or the model page's examples) changes only the host and the token.
_ACCOUNT_PREFIX = re.compile(r"^/client/v4/accounts/[^/]+(?=/ai/)")


def without_account_prefix(path: str) -> str:
    return _ACCOUNT_PREFIX.sub("", path, count=1) if path.startswith("/client/") else path


_PARAMETER = re.compile(r"\{(\w+)(:path)?\}")


def _pattern(template: str) -> re.Pattern[str]:
    """`/v1/responses/{id}/input_items` matches one segment for `{id}`; `{model:path}` takes the rest."""
    parts, end = [], 0
    for found in _PARAMETER.finditer(template):
        parts.append(re.escape(template[end : found.start()]))
        parts.append(f"(?P<{found.group(1)}>.+)" if found.group(2) else f"(?P<{found.group(1)}>[^/]+)")
        end = found.end()
    return re.compile("".join([*parts, re.escape(template[end:])]) + r"\Z")


class Operation(FrozenRecord):
    """A route as the API reference describes it.

    - `request`: the very tables that check the body (a `FieldPolicy`, or the native input forms
      by name), or None for a route without a body; the document renders them as JSON Schema;
    - `streams`: it also answers `text/event-stream` when the body asks for `stream: true`;
    - `schemas` and `errors`: `"module:function"` references to what it answers (the 2xx body,
      the stream's events, a request example) and to its error envelope. They are imported only
      when the document is built, so describing answers costs the Worker's import nothing;
    - `public`: served without a key.
    """

    __slots__ = ("errors", "public", "request", "schemas", "streams", "summary", "tag")
    summary: str
    tag: str
    schemas: str
    errors: str
    request: Any
    streams: bool
    public: bool

    def __init__(
        self,
        summary: str,
        *,
        tag: str,
        schemas: str,
        errors: str,
        request: Any = None,
        streams: bool = False,
        public: bool = False,
    ) -> None:
        self._init(
            summary=summary, tag=tag, schemas=schemas, errors=errors, request=request, streams=streams, public=public
        )


class Route(FrozenRecord):
    __slots__ = ("endpoint", "method", "operation", "path", "pattern")
    method: str
    path: str
    endpoint: ASGIApp
    operation: Operation | None
    pattern: re.Pattern[str] | None  # None: an exact path

    def __init__(self, method: str, path: str, endpoint: ASGIApp, operation: Operation | None = None) -> None:
        pattern = _pattern(path) if "{" in path else None
        self._init(method=method, path=path, endpoint=endpoint, operation=operation, pattern=pattern)

    def match(self, path: str) -> dict[str, str] | None:
        if self.pattern is None:
            return {} if path == self.path else None
        found = self.pattern.match(path)
        return None if found is None else found.groupdict()


class Router:
    def __init__(self, routes: list[Route]) -> None:
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path, method = scope["path"], scope["method"]
        allowed: list[str] = []
        for route in self.routes:
            params = route.match(path)
            if params is None:
                continue
            if route.method != method and not (method == "HEAD" and route.method == "GET"):
                allowed.append(route.method)
                continue
            scope["path_params"] = params
            context_of(scope).route = route.path
            await route.endpoint(scope, receive, send)
            return
        if allowed:
            raise MethodNotAllowed(
                f"{method} is not allowed on {path}. Allowed: {', '.join(sorted(set(allowed)))}.",
                headers={"allow": ", ".join(sorted(set(allowed)))},
            )
        raise NotFound(f"There is no route {method} {path}. See README.md for the routes.", code="unknown_route")
