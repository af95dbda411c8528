"""Values across the Python/JS boundary of the Worker: every binding call goes through these two.

Nothing here imports `js` at module level: under CPython (tests with Python doubles of the
bindings) values pass through as they are.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["plain", "to_js_object"]


def to_js_object(value: dict[str, Any]) -> Any:
    """A dict as a plain JS object, for any binding call.

    Through JSON, not pyodide's to_js: to_js turns None into undefined, which a binding's
    JSON.stringify then drops (`"content": null` would vanish). Under CPython the dict is passed
    as it is.
    """
    try:
        from js import JSON  # type: ignore[import-not-found]
    except ImportError:
        return value
    return JSON.parse(json.dumps(value))


def plain(value: Any) -> Any:
    """An RPC or binding answer as Python: the SDK converts it already; older ones hand a proxy."""
    return value.to_py() if hasattr(value, "to_py") else value
