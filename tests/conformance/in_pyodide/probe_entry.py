"""A probe Worker with the gateway's shape, for checking the runtime itself.

Runs inside Pyodide only. ``Default`` is a ``WorkerEntrypoint`` that hands each
request to a tiny ASGI app through ``workers.asgi.fetch``, exactly as
``src/entry.py`` does; its routes exercise the SDK and Pyodide behaviour the
gateway depends on (binding conversion, JS errors, stream pass-through, client
disconnects) independently of the gateway's own code. ``TrivialWorker`` serves a
fixed JSON body: the baseline for the per-request overhead figure.

Observations that outlive the response go to ``env.PROBE`` (a JS ProbeLog).
"""

import json
from collections.abc import Awaitable, Callable
from typing import Any

from workers import WorkerEntrypoint, asgi

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Route = Callable[[Scope, Receive, Send], Awaitable[None]]

MODEL = "@cf/openai/gpt-oss-120b"


class ClientGone(Exception):
    """Writing to the response failed: the client stopped reading."""


def describe(exc: BaseException) -> dict[str, Any]:
    return {
        "type": type(exc).__name__,
        "module": type(exc).__module__,
        "str": str(exc),
        "name": getattr(exc, "name", None),
        "message": getattr(exc, "message", None),
    }


async def read_body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += bytes(message.get("body", b""))
        if not message.get("more_body", False):
            return body


async def send_json(send: Send, payload: Any, status: int = 200) -> None:
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    body = await read_body(receive)
    env = scope["env"]
    await send_json(
        send,
        {
            "method": scope["method"],
            "method_type": type(scope["method"]).__name__,
            "path": scope["path"],
            "raw_path": scope["raw_path"].decode(),
            "query_string": scope["query_string"].decode(),
            "headers": [[k.decode(), v.decode()] for k, v in scope["headers"]],
            "body": body.decode(),
            "env_type": type(env).__name__,
            "probe_var": getattr(env, "PROBE_VAR", None),
            "missing_var": getattr(env, "NOT_CONFIGURED", "<absent>"),
        },
    )


async def read_stream_text(stream: Any) -> str:
    data = b""
    async for chunk in stream:
        data += chunk.to_bytes()
    return data.decode()


async def run_binding(scope: Scope, receive: Receive, send: Send) -> None:
    """Call env.AI.run with the request's arguments; describe what came back."""
    call = json.loads(await read_body(receive))
    args = [call["model"], call["inputs"]] + ([call["options"]] if "options" in call else [])
    try:
        result = await scope["env"].AI.run(*args)
    except Exception as exc:
        await send_json(send, {"exception": describe(exc)}, status=502)
        return
    if isinstance(result, dict):
        kind = {"python_type": type(result).__name__, "result": result}
        await send_json(send, kind)
        return
    await send_json(
        send,
        {
            "python_type": type(result).__name__,
            "js_constructor": result.constructor.name,
            "text": await read_stream_text(result),
        },
    )


async def limit(scope: Scope, receive: Receive, send: Send) -> None:
    """Call a rate-limit binding the way the gateway would, and describe the answer."""
    call = json.loads(await read_body(receive))
    result = await getattr(scope["env"], call["binding"]).limit({"key": call["key"]})
    await send_json(send, {"python_type": type(result).__name__, "success": result["success"]})


async def pump(reader: Any, send: Send, log: Any) -> None:
    """Copy upstream chunks to the client as they arrive; end a failure with an error event."""
    while True:
        try:
            item = await reader.read()
        except Exception as exc:
            log.record("upstream_error", json.dumps(describe(exc)))
            event = f"event: error\ndata: {json.dumps({'message': str(exc)})}\n\n"
            await send({"type": "http.response.body", "body": event.encode(), "more_body": True})
            return
        if item.done:
            return
        try:
            message = {"type": "http.response.body", "body": item.value.to_bytes(), "more_body": True}
            await send(message)
        except Exception as exc:
            log.record("send_failed", json.dumps(describe(exc)))
            raise ClientGone from exc


async def watch_receive(receive: Receive, log: Any) -> None:
    """Record what receive() yields once the body is read: does a disconnect ever arrive?"""
    message = await receive()
    log.record("receive", message["type"])


async def stream_through(scope: Scope, receive: Receive, send: Send) -> None:
    """Pass the binding's SSE stream through, the way the gateway must."""
    import asyncio

    log = scope["env"].PROBE
    inputs = json.loads(await read_body(receive))["inputs"]
    upstream = await scope["env"].AI.run(MODEL, inputs)
    watcher = asyncio.ensure_future(watch_receive(receive, log))
    headers = [(b"content-type", b"text/event-stream")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    reader = upstream.getReader()
    try:
        await pump(reader, send, log)
    except ClientGone:
        await reader.cancel("client disconnected")
        log.record("upstream_cancelled")
        return
    try:
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        log.record("finished")
    except Exception as exc:
        log.record("final_send_failed", json.dumps(describe(exc)))
    finally:
        await asyncio.sleep(0)
        log.record("watcher_done", str(watcher.done()))


ROUTES: dict[str, Route] = {
    "/probe/echo": echo,
    "/probe/run": run_binding,
    "/probe/limit": limit,
    "/probe/stream": stream_through,
}


async def probe_app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return  # no lifespan support: the adapter then serves requests without it
    route = ROUTES.get(scope["path"])
    if route is None:
        await send_json(send, {"error": "no such probe route"}, status=404)
        return
    await route(scope, receive, send)


async def trivial_app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    await send_json(send, {"ok": True, "object": "trivial"})


class Default(WorkerEntrypoint):
    async def fetch(self, request: Any) -> Any:
        return await asgi.fetch(probe_app, request, self.env, self.ctx)


class TrivialWorker(WorkerEntrypoint):
    async def fetch(self, request: Any) -> Any:
        return await asgi.fetch(trivial_app, request, self.env, self.ctx)
