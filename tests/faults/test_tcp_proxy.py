"""The fault proxy itself, against a real TCP echo server on loopback."""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Iterator

import pytest

from tests.support.tcp_proxy import TcpProxy


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(4096):
            self.request.sendall(data)


@pytest.fixture
def echo_port() -> Iterator[int]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def proxy(echo_port: int) -> Iterator[TcpProxy]:
    with TcpProxy(echo_port) as running:
        yield running


def connect(proxy: TcpProxy) -> socket.socket:
    return socket.create_connection(("127.0.0.1", proxy.port), timeout=5)


def roundtrip(sock: socket.socket, data: bytes = b"ping") -> bytes:
    sock.sendall(data)
    return sock.recv(4096)


def test_forwards_both_ways(proxy: TcpProxy):
    with connect(proxy) as sock:
        assert roundtrip(sock, "你好".encode()) == "你好".encode()
    assert proxy.accepted == 1


def test_slow_holds_each_reply(proxy: TcpProxy):
    proxy.slow(0.5)
    with connect(proxy) as sock:
        started = time.monotonic()
        assert roundtrip(sock) == b"ping"
        assert time.monotonic() - started >= 0.5
    proxy.forward()
    with connect(proxy) as sock:
        started = time.monotonic()
        assert roundtrip(sock) == b"ping"
        assert time.monotonic() - started < 0.5


def test_lose_replies_delivers_the_request_but_resets_the_answer(echo_port: int):
    seen: list[bytes] = []

    class Recording(_Echo):
        def handle(self) -> None:
            data = self.request.recv(4096)
            seen.append(data)
            self.request.sendall(data)

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Recording)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with TcpProxy(server.server_address[1]) as proxy:
            proxy.lose_replies()
            with connect(proxy) as sock:
                sock.sendall(b"file it")
                with pytest.raises(ConnectionResetError):  # a reset, not an orderly end
                    sock.recv(4096)
            assert seen == [b"file it"]
            assert proxy.replies_lost == 1
    finally:
        server.shutdown()
        server.server_close()


def test_drop_all_resets_open_connections_and_new_ones_work(proxy: TcpProxy):
    with connect(proxy) as old:
        assert roundtrip(old) == b"ping"
        assert proxy.drop_all() == 1
        with pytest.raises(ConnectionResetError):
            roundtrip(old)
    with connect(proxy) as new:
        assert roundtrip(new) == b"ping"


def test_refuse_then_restore_on_the_same_port(proxy: TcpProxy):
    port = proxy.port
    with connect(proxy) as old:
        assert roundtrip(old) == b"ping"
        proxy.refuse()
        with pytest.raises(ConnectionResetError):
            roundtrip(old)
    with pytest.raises(ConnectionRefusedError):
        connect(proxy)
    proxy.restore()
    assert proxy.port == port
    with connect(proxy) as sock:
        assert roundtrip(sock) == b"ping"


def test_target_down_resets_the_caller_at_once():
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        dead_port = unused.getsockname()[1]
    with TcpProxy(dead_port) as proxy, pytest.raises(ConnectionResetError):
        # The reset may even come before connect() returns.
        with connect(proxy) as sock:
            roundtrip(sock)
