"""A stand-in backend for the proxy tests: `python -m tests.prod.echo_backend PORT NAME`.

Answers every request with JSON naming itself, the method, path and body it got;
``/health`` says ok; ``/hang-up`` closes the connection without an answer, as a
crashing server does in the middle of a request. Each request is counted in
``/count`` so tests can see what reached it.
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main() -> None:
    port, name = int(sys.argv[1]), sys.argv[2]
    seen: list[str] = []
    guard = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            # surrogateescape: bytes that are not UTF-8 come back as they were sent.
            body = self.rfile.read(length).decode("utf-8", "surrogateescape") if length else ""
            if self.path == "/count":
                payload = {"name": name, "seen": seen}
            else:
                if self.path != "/health":
                    with guard:
                        seen.append(f"{self.command} {self.path}")
                if self.path == "/hang-up":
                    self.close_connection = True
                    self.connection.close()
                    return
                payload = {
                    "name": name,
                    "method": self.command,
                    "path": self.path,
                    "body": body,
                    "forwarded_for": self.headers.get("x-forwarded-for"),
                }
            data = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.send_header("set-cookie", "a=1")
            self.send_header("set-cookie", "b=2")
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = answer

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
