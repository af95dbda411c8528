"""A small router: exact paths, and one trailing `{name:path}` parameter for model names."""

from __future__ import annotations

import re

from .._errors import MethodNotAllowed, NotFound
from .._valueclass import FrozenRecord
from .context import context_of
from .http import ASGIApp, Receive, Scope, Send

__all__ = ["Route", "Router", "without_account_prefix"]

# Cloudflare's REST paths start `/client/v4/accounts/{account_id}`; accepting them means a
# client of the REST API (or the model page's examples) changes only the host and the token.
_ACCOUNT_PREFIX = re.compile(r"^/client/v4/accounts/[^/]+(?=/ai/)")


def without_account_prefix(path: str) -> str:
    return _ACCOUNT_PREFIX.sub("", path, count=1) if path.startswith("/client/") else path


class Route(FrozenRecord):
    __slots__ = ("endpoint", "method", "path")
    method: str
    path: str
    endpoint: ASGIApp

    def __init__(self, method: str, path: str, endpoint: ASGIApp) -> None:
        self._init(method=method, path=path, endpoint=endpoint)

    def match(self, path: str) -> dict[str, str] | None:
        head, brace, tail = self.path.partition("{")
        if not brace:
            return {} if path == self.path else None
        if not path.startswith(head) or len(path) == len(head):
            return None
        name = tail.split(":", 1)[0].rstrip("}")
        return {name: path[len(head) :]}


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
