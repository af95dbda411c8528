"""Times imports inside Pyodide. Stdlib only, so importing it loads nothing it measures."""

import importlib
import json
import sys
import time


def timed_import(name: str) -> str:
    """Import a module; report how long it took and which modules it brought in."""
    before = set(sys.modules)
    start = time.perf_counter()
    importlib.import_module(name)
    elapsed_ms = (time.perf_counter() - start) * 1000
    new_modules = sorted(set(sys.modules) - before)
    return json.dumps({"ms": elapsed_ms, "new_modules": new_modules})
