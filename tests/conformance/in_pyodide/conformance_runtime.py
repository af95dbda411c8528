"""What workerd does around a Python Worker, for the conformance harness.

Runs inside Pyodide only. workerd builds a ``WorkerEntrypoint`` subclass as
``Cls(ctx, env)`` for each request and calls its methods through
``introspection.wrapper_func``: every argument goes through ``python_from_rpc``
(so a JS ``Request`` reaches ``fetch`` as a ``workers.Request``) and the result
through ``python_to_rpc``. The harness calls the Worker the same way, so the app
meets the objects it meets in production.

Helpers return JSON text rather than Python objects, so no proxy crosses back to
the harness and nothing needs destroying.
"""

import importlib
import json
import sys
from inspect import isawaitable
from typing import Any

from workers.rpc import python_from_rpc, python_to_rpc


async def call_fetch(worker_class: type, ctx: Any, env: Any, request: Any) -> Any:
    """Construct the Worker and call its fetch, as workerd does for one request."""
    worker = worker_class(ctx, env)
    result = worker.fetch(python_from_rpc(request))
    if isawaitable(result):
        result = await result
    return python_to_rpc(result)


def fresh_worker(module_name: str, class_name: str) -> type:
    """Re-run a Worker's entry module, as a new isolate would, and return its class.

    Only the entry module is re-executed; the packages it imports stay loaded, as
    they would in a warm isolate whose app object is rebuilt.
    """
    module = importlib.reload(sys.modules[module_name])
    worker_class: type = getattr(module, class_name)
    return worker_class


class Profiler:
    """cProfile over whatever Python runs between start() and stop(), event-loop callbacks included."""

    def __init__(self) -> None:
        import cProfile

        self._profile = cProfile.Profile()

    def start(self) -> None:
        self._profile.enable()

    def stop(self, top: int = 25) -> str:
        import io
        import pstats

        self._profile.disable()
        out = io.StringIO()
        stats = pstats.Stats(self._profile, stream=out)
        stats.sort_stats("tottime").print_stats(top)
        return out.getvalue()


def runtime_versions() -> str:
    import pyodide
    import workers

    return json.dumps(
        {
            "python": sys.version.split()[0],
            "pyodide": pyodide.__version__,
            "workers_sdk_path": workers.__file__,
        }
    )
