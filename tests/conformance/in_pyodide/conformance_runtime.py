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


def exported_class(module_name: str, class_name: str) -> type:
    """A class the Worker's entry module exports, as wrangler's `class_name` names a Durable Object."""
    cls: type = getattr(sys.modules[module_name], class_name)
    return cls


def rpc_methods(cls: type) -> str:
    """The public methods a Durable Object class offers over RPC, as a JSON list."""
    names = {
        name
        for klass in cls.__mro__
        if klass.__module__ != "workers.entrypoints" and klass is not object
        for name, value in vars(klass).items()
        if not name.startswith("_") and callable(value)
    }
    return json.dumps(sorted(names))


def create_durable_object(cls: type, state: Any, env: Any) -> Any:
    """Construct a Durable Object as workerd does: `Cls(state, env)`, state being the JS DurableObjectState."""
    return cls(state, env)


async def call_rpc(instance: Any, method: str, args: Any) -> Any:
    """Call a Durable Object's method as workerd's RPC does: arguments through python_from_rpc,
    the result through python_to_rpc, so the caller gets plain JS data back."""
    result = getattr(instance, method)(*[python_from_rpc(arg) for arg in args])
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
