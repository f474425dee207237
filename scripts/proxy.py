"""A small HTTP reverse proxy for the production profile (`make run-prod`).

Rasa's endpoints take one action-server URL and the gateway one Rasa URL, so each
replicated service sits behind one of these:

    python -m scripts.proxy --name rasa --port 5005 --route conversation \\
        --backends http://127.0.0.1:5006,http://127.0.0.1:5007 --health-path /

* ``--route round-robin`` (the default) sends requests to the healthy backends in
  turn. ``--route conversation`` sends every request of one conversation to the
  same healthy backend, where that Rasa replica still holds the conversation
  (rasa_addons.tracker_store.TrackerCache) and need not load it from PostgreSQL.
  The conversation is the sender of a channel message (``{"sender": ...}`` posted
  to ``/webhooks/...``) or the id in ``/conversations/<id>/...``; a request without
  one takes turns. Backends are ranked per conversation by rendezvous hashing, so
  when one goes down only its own conversations move, each to its next backend,
  and they come back when it does. Each backend's health URL is
  checked every ``--health-interval`` seconds; a backend that refuses a connection,
  or fails two checks in a row (one slow answer from a busy Rasa is no reason to
  drop it), is skipped until it answers again.
* A request that never reached a backend (connection refused or timed out while
  connecting) is sent to the next one, whatever its method. One that did reach it
  and then failed is retried only when it is safe to repeat (GET, HEAD, OPTIONS):
  a Rasa message or an action call may already have written something.
* When no backend can take the request the client gets a 502/503
  ``application/problem+json`` answer.
* ``GET /_proxy/health`` says which backends are up (200 if any, 503 otherwise).
  Each proxied response names its backend in ``X-Backend`` (for tests and logs).

Bodies are small JSON documents, so they are read whole; nothing is logged but
the backend state changes (the bodies hold personal data).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import itertools
import json
import logging
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

logger = logging.getLogger("proxy")

ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
SAFE_TO_REPEAT = frozenset({"GET", "HEAD", "OPTIONS"})
# Per-connection headers (RFC 9110 7.6.1) are not forwarded; httpx and uvicorn set their own.
HOP_BY_HOP = frozenset(
    {
        "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
        "trailer", "transfer-encoding", "upgrade", "host", "content-length",
    }
)  # fmt: skip
HEALTH_PATH = "/_proxy/health"
Routing = Literal["round-robin", "conversation"]
ROUTINGS: tuple[Routing, ...] = ("round-robin", "conversation")
CONVERSATION_PATH = re.compile(rb"^/conversations/([^/?]+)")


@dataclass
class Backend:
    url: str
    # None until the first answer or health check: tried like a healthy one meanwhile.
    state: bool | None = None
    failed_checks: int = 0

    @property
    def name(self) -> str:
        return httpx.URL(self.url).netloc.decode()

    @property
    def alive(self) -> bool:
        return self.state is not False

    def mark(self, alive: bool, service: str) -> None:
        if alive != self.state:
            # Going down after having been up is worth a warning; starting up is not.
            level = logging.WARNING if self.state and not alive else logging.INFO
            logger.log(level, "%s backend %s is %s", service, self.name, "up" if alive else "down")
        self.state = alive


FAILED_CHECKS_FOR_DOWN = 2
HEALTH_TIMEOUT = 2.0


def conversation_of(raw_path: bytes, method: str, body: bytes) -> str | None:
    """The conversation a request belongs to, if it names one."""
    match = CONVERSATION_PATH.match(raw_path)
    if match:
        return unquote(match.group(1).decode("latin-1"))
    if method != "POST" or not raw_path.startswith(b"/webhooks/"):
        return None
    try:
        sender = json.loads(body).get("sender")
    # Not JSON, not UTF-8, nested too deep, not an object: Rasa will say what is wrong.
    except (ValueError, RecursionError, AttributeError):
        return None
    return sender if isinstance(sender, str) and sender else None


def rank(conversation: str, urls: Sequence[str]) -> list[int]:
    """Indexes of ``urls`` from the one this conversation goes to first (rendezvous hashing)."""

    def weight(index: int) -> bytes:
        key = f"{conversation}\x00{urls[index]}".encode()
        return hashlib.blake2b(key, digest_size=8).digest()

    return sorted(range(len(urls)), key=weight, reverse=True)


class Proxy:
    """Holds the backends, picks one per request, forwards requests, checks health."""

    def __init__(
        self,
        backends: Sequence[str],
        *,
        name: str = "proxy",
        routing: Routing = "round-robin",
        health_path: str = "/health",
        health_interval: float = 2.0,
        timeout: float = 120.0,
        connect_timeout: float = 2.0,
    ) -> None:
        if not backends:
            raise ValueError("at least one backend is needed")
        if routing not in ROUTINGS:
            raise ValueError(f"routing must be one of {', '.join(ROUTINGS)}, not {routing!r}")
        self.name = name
        self.routing = routing
        self.backends = [Backend(url.rstrip("/")) for url in backends]
        self.health_path = health_path
        self.health_interval = health_interval
        self._timeout = httpx.Timeout(timeout, connect=connect_timeout)
        self._turn = itertools.count()
        self._client: httpx.AsyncClient | None = None

    def order(self, conversation: str | None = None) -> list[Backend]:
        """This request's backends: the healthy ones first, then the rest.

        The healthy ones come in the conversation's own order when routing by
        conversation, otherwise from the next in turn. Backends marked down are
        still tried last, so a request is not refused because a health check was
        a moment out of date.
        """
        if conversation is not None and self.routing == "conversation":
            ranked = [self.backends[i] for i in rank(conversation, [b.url for b in self.backends])]
        else:
            start = next(self._turn) % len(self.backends)
            ranked = self.backends[start:] + self.backends[:start]
        return [b for b in ranked if b.alive] + [b for b in ranked if not b.alive]

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        # Redirects belong to the client; environment proxies must not apply to loopback.
        self._client = httpx.AsyncClient(
            timeout=self._timeout, follow_redirects=False, trust_env=False
        )
        checker = asyncio.create_task(self._check_forever())
        try:
            yield
        finally:
            checker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await checker
            await self._client.aclose()

    async def check(self) -> None:
        """Ask every backend's health URL once, at the same time."""
        assert self._client is not None

        async def one(backend: Backend) -> None:
            try:
                response = await self._client.get(
                    backend.url + self.health_path, timeout=HEALTH_TIMEOUT
                )
                healthy = response.status_code < 500
            except httpx.HTTPError:
                healthy = False
            backend.failed_checks = 0 if healthy else backend.failed_checks + 1
            if healthy or backend.state is None or backend.failed_checks >= FAILED_CHECKS_FOR_DOWN:
                backend.mark(healthy, self.name)

        await asyncio.gather(*(one(b) for b in self.backends))

    async def _check_forever(self) -> None:
        while True:
            await self.check()
            await asyncio.sleep(self.health_interval)

    async def forward(self, request: Request) -> Response:
        assert self._client is not None
        body = await request.body()
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP]
        if request.client:
            headers.append(("x-forwarded-for", request.client.host))
        method = request.method
        # As received, still percent-encoded: a sender id may hold "/" or Chinese (%2F...).
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        query = request.scope.get("query_string", b"")
        path = (raw_path + (b"?" + query if query else b"")).decode("latin-1")
        conversation = (
            conversation_of(raw_path, method, body) if self.routing == "conversation" else None
        )
        for backend in self.order(conversation):
            outgoing = self._client.build_request(
                method, backend.url + path, headers=headers, content=body
            )
            try:
                upstream = await self._client.send(outgoing)
            except (httpx.ConnectError, httpx.ConnectTimeout):
                backend.mark(False, self.name)  # the request never left: try the next one
                continue
            except httpx.TimeoutException:
                return problem(504, f"{self.name} did not answer in time")
            except httpx.TransportError:
                backend.mark(False, self.name)
                if method in SAFE_TO_REPEAT:
                    continue
                return problem(502, f"{self.name} failed while handling the request")
            backend.mark(True, self.name)
            return relay(upstream, backend)
        return problem(503, f"no {self.name} backend is reachable")

    async def health(self, _request: Request) -> JSONResponse:
        up = [b.name for b in self.backends if b.state]
        down = [b.name for b in self.backends if not b.state]
        return JSONResponse({"up": up, "down": down}, status_code=200 if up else 503)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route(HEALTH_PATH, self.health, methods=["GET"]),
                Route("/{path:path}", self.forward, methods=ALL_METHODS),
            ],
            lifespan=self.lifespan,
        )


def relay(upstream: httpx.Response, backend: Backend) -> Response:
    """The backend's answer as is, with repeated headers (Set-Cookie) kept apart."""
    # .content is already decoded, so Content-Encoding must not be passed on.
    skip = HOP_BY_HOP | {"content-encoding"}
    response = Response(upstream.content, upstream.status_code)
    response.raw_headers = [
        (b"content-length", str(len(upstream.content)).encode()),
        (b"x-backend", backend.name.encode()),
        *(
            (k.lower().encode("latin-1"), v.encode("latin-1"))
            for k, v in upstream.headers.multi_items()
            if k.lower() not in skip
        ),
    ]
    return response


def problem(status: int, detail: str) -> JSONResponse:
    titles = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
    return JSONResponse(
        {"type": "about:blank", "title": titles[status], "status": status, "detail": detail},
        status_code=status,
        media_type="application/problem+json",
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", default="proxy", help="what is behind it, for messages")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--backends", required=True, help="comma-separated base URLs")
    parser.add_argument(
        "--route",
        choices=ROUTINGS,
        default="round-robin",
        help="round-robin, or keep each conversation on one backend",
    )
    parser.add_argument("--health-path", default="/health")
    parser.add_argument("--health-interval", type=float, default=2.0)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per request")
    args = parser.parse_args(argv)

    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    backends = [url.strip() for url in args.backends.split(",") if url.strip()]
    proxy = Proxy(
        backends,
        name=args.name,
        routing=args.route,
        health_path=args.health_path,
        health_interval=args.health_interval,
        timeout=args.timeout,
    )
    logger.info(
        "%s proxy on http://%s:%s -> %s (%s)", args.name, args.host, args.port, backends, args.route
    )
    # ws="none": no WebSockets here, and uvicorn's auto-detection trips on Rasa's old pin.
    uvicorn.run(
        proxy.app(), host=args.host, port=args.port, ws="none", access_log=False,
        log_config=None, log_level="info",
    )  # fmt: skip


if __name__ == "__main__":
    main()
