"""Where the app puts what every layer may read: the settings and the AI backend."""

from __future__ import annotations

from ._config import Settings
from ._http import Scope
from ._upstream import Backend

__all__ = ["BACKEND_KEY", "SETTINGS_KEY", "backend_of", "settings_of"]

SETTINGS_KEY = "gateway.settings"
BACKEND_KEY = "gateway.backend"


def settings_of(scope: Scope) -> Settings:
    return scope[SETTINGS_KEY]  # type: ignore[no-any-return]


def backend_of(scope: Scope) -> Backend:
    return scope[BACKEND_KEY]  # type: ignore[no-any-return]
