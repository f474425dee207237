"""A TCP proxy for fault tests: forward, slow down, drop or refuse real connections.

Put it between two real processes (the action server and the exchange, the stack
and PostgreSQL) and break the network on purpose:

    with TcpProxy(target_port=5432) as proxy:   # listens on a free port
        env["TRACKER_URL"] = f"postgresql://postgres@127.0.0.1:{proxy.port}/test"
        ...
        proxy.refuse()       # new connections are refused (ECONNREFUSED), like a stopped server
        proxy.drop_all()     # every open connection is reset (RST), like a crashed one
        proxy.restore()      # listening and forwarding again, on the same port

    proxy.slow(3.5)          # each reply chunk waits 3.5 s (a slow server)
    proxy.lose_replies()     # requests are forwarded, but the connection is reset as soon
                             # as the server answers (the server did the work, the caller
                             # never hears about it)

The proxy runs its own asyncio loop in a daemon thread; every method is safe to
call from the test thread and returns once the change is in effect. Run it from
a shell with ``python -m tests.support.tcp_proxy LISTEN_PORT TARGET_PORT``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

CHUNK = 65536


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST instead of FIN, so the peer sees a broken connection at once."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


@dataclass(eq=False)
class _Link:
    """One client connection and its upstream twin."""

    client: asyncio.StreamWriter
    server: asyncio.StreamWriter

    def reset(self) -> None:
        _reset(self.client)
        _reset(self.server)


class TcpProxy:
    def __init__(
        self, target_port: int, target_host: str = "127.0.0.1", *, port: int = 0,
        host: str = "127.0.0.1",
    ) -> None:  # fmt: skip
        self.target = (target_host, target_port)
        self.host = host
        self.port = port  # 0: a free port is chosen on start, then kept across refuse/restore
        self.delay = 0.0
        self.losing_replies = False
        self.accepted = 0  # connections accepted so far (tests can see traffic went through)
        self.replies_lost = 0
        self._links: set[_Link] = set()
        self._server: asyncio.base_events.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    # Life cycle

    def start(self) -> TcpProxy:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="tcp-proxy", daemon=True)
        self._thread.start()
        self._call(self._listen())
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._loop.close()
        self._loop = None

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # Faults

    def forward(self) -> None:
        """Plain forwarding again (no delay, replies delivered); keeps the listener as is."""
        self.delay = 0.0
        self.losing_replies = False

    def slow(self, seconds: float) -> None:
        """Hold every chunk the server sends for ``seconds`` before passing it on."""
        self.delay = seconds

    def lose_replies(self) -> None:
        """Forward requests; reset both sides as soon as the server starts answering."""
        self.losing_replies = True

    def drop_all(self) -> int:
        """Reset every open connection; returns how many there were."""
        return self._call(self._drop_all())

    def refuse(self) -> None:
        """Stop listening and reset open connections: the port refuses, as if the server died."""
        self._call(self._shutdown())

    def restore(self) -> None:
        """Listen again on the same port and forward plainly."""
        self.forward()
        if self._server is None:
            self._call(self._listen())

    # Inside the loop

    def _call(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        assert self._loop is not None, "start the proxy first"
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=30)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(
            self._handle, self.host, self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        await self._drop_all()

    async def _drop_all(self) -> int:
        links = list(self._links)
        for link in links:
            link.reset()
        self._links.clear()
        return len(links)

    async def _handle(self, client_in: asyncio.StreamReader, client: asyncio.StreamWriter) -> None:
        try:
            server_in, server = await asyncio.open_connection(*self.target)
        except OSError:
            _reset(client)  # the target is down: the caller sees a reset, not a hang
            return
        self.accepted += 1
        link = _Link(client, server)
        self._links.add(link)
        try:
            await asyncio.gather(
                self._pump(client_in, server, link, replies=False),
                self._pump(server_in, client, link, replies=True),
            )
        finally:
            self._links.discard(link)
            client.close()
            server.close()

    async def _pump(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, link: _Link, *,
        replies: bool,
    ) -> None:  # fmt: skip
        try:
            while data := await source.read(CHUNK):
                if replies and self.losing_replies:
                    self.replies_lost += 1
                    link.reset()
                    return
                if replies and self.delay:
                    await asyncio.sleep(self.delay)
                sink.write(data)
                await sink.drain()
        except (ConnectionError, OSError):
            link.reset()
            return
        # Orderly end from this side: pass the half-close on.
        with contextlib.suppress(OSError, RuntimeError):
            if sink.can_write_eof():
                sink.write_eof()


def main() -> None:
    parser = argparse.ArgumentParser(description="Forward a local TCP port (test tool).")
    parser.add_argument("listen_port", type=int)
    parser.add_argument("target_port", type=int)
    parser.add_argument("--target-host", default="127.0.0.1")
    args = parser.parse_args()
    proxy = TcpProxy(args.target_port, args.target_host, port=args.listen_port).start()
    print(f"forwarding {proxy.address} -> {args.target_host}:{args.target_port}; Ctrl-C stops")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        proxy.stop()


if __name__ == "__main__":
    main()
