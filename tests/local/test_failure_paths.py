"""The local server's failure paths under faults: clients that leave early or send slowly, and an
upstream that holds every connection. Loopback only; each test takes a few seconds at most."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from gateway.local.http_backends import OpenAIBackend, UpstreamPool
from gateway.local.server import serve, upstream_pool
from tests.client import Reply, request
from tests.conftest import MakeGateway
from tests.local.conftest import running_server

CHAT = {"model": "gpt-oss-120b", "messages": [{"role": "user", "content": "hi"}]}


class SilentUpstream:
    """A loopback HTTP server that accepts requests and never answers; counts open connections."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.sock.settimeout(0.1)
        self.open: set[socket.socket] = set()
        self.seen = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/v1"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                self._reap()
                continue
            finally:
                self._stop.wait(0.01)
            conn.setblocking(False)
            self.open.add(conn)
            self.seen += 1

    def _reap(self) -> None:
        for conn in list(self.open):
            try:
                if conn.recv(65536) == b"":  # the gateway closed it
                    self.open.discard(conn)
                    conn.close()
            except BlockingIOError:
                pass
            except OSError:
                self.open.discard(conn)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        for conn in self.open:
            conn.close()
        self.sock.close()


class StreamingUpstream(SilentUpstream):
    """Answers every request with an event stream that never ends (64 events every 10 ms)."""

    HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    EVENT = b'data: {"choices": [{"index": 0, "delta": {"content": "x"}, "finish_reason": null}]}\n\n'

    def _reap(self) -> None:
        for conn in list(self.open):
            try:
                if conn.recv(65536) == b"":
                    self.open.discard(conn)
                    conn.close()
                    continue
                self.asked.add(conn)
            except BlockingIOError:
                pass
            except OSError:
                self.open.discard(conn)
                continue
            self._send(conn)

    def _send(self, conn: socket.socket) -> None:
        if conn not in self.asked:
            return
        try:
            if conn not in self.answered:
                conn.sendall(self.HEAD)
                self.answered.add(conn)
            # Many at once: the gateway always has the next event ready, the case where a
            # cancellation could be swallowed on 3.11 (each read finishes in one loop turn).
            events = self.EVENT * 64
            conn.sendall(b"%x\r\n%s\r\n" % (len(events), events))
        except BlockingIOError:
            pass
        except OSError:
            self.open.discard(conn)

    @property
    def asked(self) -> set[socket.socket]:
        return self.__dict__.setdefault("_asked", set())  # type: ignore[no-any-return]

    @property
    def answered(self) -> set[socket.socket]:
        return self.__dict__.setdefault("_answered", set())  # type: ignore[no-any-return]


@contextmanager
def silent_upstream(kind: type[SilentUpstream] = SilentUpstream) -> Iterator[SilentUpstream]:
    upstream = kind()
    try:
        yield upstream
    finally:
        upstream.close()


def _http_request(url: str, key: str, body: bytes, length: int | None = None) -> bytes:
    host = url.removeprefix("http://")
    return (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body) if length is None else length}\r\n\r\n"
    ).encode() + body


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=5)


def _wait_for(condition: object, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_clients_that_leave_before_the_first_byte_close_their_upstream_connections() -> None:
    """Before, each upstream connection stayed open until UPSTREAM_TIMEOUT_S (here 60 s)."""
    unlimited = json.dumps({"default": {}})
    with (
        silent_upstream() as upstream,
        running_server(UPSTREAM_BASE_URL=upstream.url, UPSTREAM_TIMEOUT_S="60", TIERS=unlimited) as srv,
    ):
        clients = [_connect(srv.url) for _ in range(20)]
        for client in clients:
            client.sendall(_http_request(srv.url, srv.key, json.dumps(CHAT).encode()))
        assert _wait_for(lambda: len(upstream.open) == 20, 5), f"{len(upstream.open)} upstream connections"
        for client in clients:
            client.close()
        assert _wait_for(lambda: not upstream.open, 3), f"{len(upstream.open)} of 20 still open after 3 s"


def test_clients_that_leave_mid_stream_close_their_upstream_streams() -> None:
    """The openai backend under uvicorn, as the load test ran it: every stream's upstream closes."""
    unlimited = json.dumps({"default": {}})
    with (
        silent_upstream(StreamingUpstream) as upstream,
        running_server(UPSTREAM_BASE_URL=upstream.url, TIERS=unlimited) as srv,
    ):
        clients = [_connect(srv.url) for _ in range(20)]
        for client in clients:
            client.sendall(_http_request(srv.url, srv.key, json.dumps({**CHAT, "stream": True}).encode()))
        for client in clients:
            seen = b""
            while b"data:" not in seen:  # until the first event has arrived
                seen += client.recv(65536)
        assert len(upstream.open) == 20
        for client in clients:
            client.close()
        assert _wait_for(lambda: not upstream.open, 3), f"{len(upstream.open)} of 20 upstream streams still open"


def test_a_client_that_sends_its_headers_too_slowly_is_disconnected() -> None:
    with running_server(HEADERS_TIMEOUT_S="1") as srv:
        slow = _connect(srv.url)
        started = time.monotonic()
        closed_after = None
        for byte in _http_request(srv.url, srv.key, b"{}")[:40]:
            try:
                slow.sendall(bytes([byte]))
                slow.settimeout(0.2)
                if slow.recv(1024) == b"":
                    closed_after = time.monotonic() - started
                    break
            except TimeoutError:
                continue
            except OSError:
                closed_after = time.monotonic() - started
                break
        slow.close()
        assert closed_after is not None and closed_after < 3, closed_after
        fine = _connect(srv.url)  # the server goes on serving
        fine.sendall(_http_request(srv.url, srv.key, json.dumps(CHAT).encode()))
        assert fine.recv(12).startswith(b"HTTP/1.1 200")
        fine.close()


def test_a_client_that_sends_its_body_too_slowly_gets_a_408() -> None:
    with running_server(BODY_TIMEOUT_S="1") as srv:
        slow = _connect(srv.url)
        started = time.monotonic()
        slow.sendall(_http_request(srv.url, srv.key, b'{"model": ', length=200))
        slow.settimeout(5)
        answer = b""
        while b"BODY_TIMEOUT_S" not in answer and (chunk := slow.recv(4096)):
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 408"), answer[:80]
        assert b"BODY_TIMEOUT_S" in answer
        assert time.monotonic() - started < 3
        slow.close()


def test_requests_past_the_upstream_pool_get_a_503_instead_of_waiting_silently(make_gateway: MakeGateway) -> None:
    with silent_upstream() as upstream:
        backend = OpenAIBackend(upstream.url, pool=UpstreamPool(max_connections=2, pool_timeout_s=0.3))
        gw = make_gateway(backend, UPSTREAM_TIMEOUT_S="3")

        async def three() -> list[int]:
            def call() -> asyncio.Future[Reply]:
                return asyncio.ensure_future(
                    request(gw.app, "POST", "/v1/chat/completions", body=CHAT, headers=gw.auth)
                )

            holding = [call(), call()]
            while upstream.seen < 2:
                await asyncio.sleep(0.01)
            started = time.monotonic()
            third = await call()
            assert time.monotonic() - started < 1.5
            assert third.json()["error"]["code"] == "upstream_connections_busy"
            assert third.headers["retry-after"] == "1"
            return [third.status] + [reply.status for reply in await asyncio.gather(*holding)]

        statuses = asyncio.run(three())
        assert statuses == [503, 504, 504]
        assert upstream.seen == 2


@pytest.mark.parametrize("variable", ["UPSTREAM_MAX_CONNECTIONS", "UPSTREAM_POOL_TIMEOUT_S"])
def test_a_bad_pool_limit_stops_the_server_naming_it(variable: str) -> None:
    with pytest.raises(SystemExit, match=variable):
        upstream_pool({variable: "-1"})


@pytest.mark.parametrize("variable", ["HEADERS_TIMEOUT_S", "BODY_TIMEOUT_S"])
def test_a_bad_timeout_stops_the_server_naming_it(variable: str, tmp_path: Path) -> None:
    (tmp_path / ".dev.vars").write_text(f"{variable}=soon\n")
    with pytest.raises(SystemExit, match=variable):
        serve("127.0.0.1", 0, None, tmp_path)
