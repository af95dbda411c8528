"""A client that leaves mid-stream cancels the upstream read, certainly, on Python 3.11 as on 3.12+.

`asyncio.wait_for` can swallow a cancellation on 3.11 when the awaited step finishes in the same
loop turn (CPython gh-86296): the relay then read its upstream to the end. These streams never
end, so a swallowed cancellation shows as a request that never finishes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from tests.client import request
from tests.conftest import NATIVE, MakeGateway
from tests.doubles import FixedBackend

EVENT = b"data: " + json.dumps({"response": "x"}).encode() + b"\n\n"


class EndlessStream:
    """An upstream that always has the next event ready: every read finishes in one loop turn."""

    def __init__(self) -> None:
        self.produced = 0
        self.closed = False

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._run()

    async def _run(self) -> AsyncIterator[bytes]:
        while not self.closed:
            await asyncio.sleep(0)
            self.produced += 1
            yield EVENT

    async def aclose(self) -> None:
        self.closed = True


class EndlessBackend(FixedBackend):
    def __init__(self) -> None:
        super().__init__({})
        self.streams: list[EndlessStream] = []

    async def run(self, model: str, inputs: dict, options: dict) -> EndlessStream:  # type: ignore[override, type-arg]
        self.streams.append(EndlessStream())
        return self.streams[-1]


def test_every_client_that_leaves_mid_stream_closes_its_upstream(make_gateway: MakeGateway) -> None:
    backend = EndlessBackend()
    gw = make_gateway(backend)

    async def one() -> None:
        body = {"prompt": "hi", "stream": True}
        await request(gw.app, "POST", NATIVE, body=body, headers=gw.auth, disconnect_after=0.001, timeout=5)

    async def many() -> None:
        await asyncio.gather(*(one() for _ in range(40)))

    asyncio.run(many())
    assert len(backend.streams) == 40
    assert all(stream.closed for stream in backend.streams)
