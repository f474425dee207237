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

Server and client are aiohttp's (Rasa's own dependency) on uvloop: every action
call carries the whole conversation, and with Starlette and httpx the action
servers' proxy alone took about a sixth of the production profile's CPU under
load; aiohttp's C parsers do the same work for less than half of that.
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
from types import SimpleNamespace
from typing import Literal
from urllib.parse import unquote

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

logger = logging.getLogger("proxy")

SAFE_TO_REPEAT = frozenset({"GET", "HEAD", "OPTIONS"})
# Per-connection headers (RFC 9110 7.6.1) are not forwarded; aiohttp sets its own.
HOP_BY_HOP = frozenset(
    {
        "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
        "trailer", "transfer-encoding", "upgrade", "host", "content-length",
    }
)  # fmt: skip
HEALTH_PATH = "/_proxy/health"
Routing = Literal["round-robin", "conversation"]
ROUTINGS: tuple[Routing, ...] = ("round-robin", "conversation")
CONVERSATION_PATH = re.compile(r"^/conversations/([^/?]+)")
# Far above any message or conversation; below that the backends decide what is too big.
MAX_BODY = 64 * 1024 * 1024


@dataclass
class Backend:
    url: str
    # None until the first answer or health check: tried like a healthy one meanwhile.
    state: bool | None = None
    failed_checks: int = 0

    @property
    def name(self) -> str:
        return URL(self.url).raw_authority

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


def conversation_of(raw_path: str, method: str, body: bytes) -> str | None:
    """The conversation a request belongs to, if it names one."""
    match = CONVERSATION_PATH.match(raw_path)
    if match:
        return unquote(match.group(1))
    if method != "POST" or not raw_path.startswith("/webhooks/"):
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


async def _connected(_session: object, context: SimpleNamespace, _params: object) -> None:
    if context.trace_request_ctx is not None:  # health checks do not ask
        context.trace_request_ctx.connected = True


def _tracing() -> aiohttp.TraceConfig:
    """Notes on each request whether a connection to the backend was made: only a
    request that never had one is certain not to have reached it."""
    trace = aiohttp.TraceConfig(trace_config_ctx_factory=SimpleNamespace)
    trace.on_connection_create_end.append(_connected)
    trace.on_connection_reuseconn.append(_connected)
    return trace


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
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=connect_timeout)
        self._turn = itertools.count()
        self._client: aiohttp.ClientSession | None = None

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

    async def lifespan(self, _app: web.Application) -> AsyncIterator[None]:
        # Bodies pass through as they are (compressed or not); redirects belong to the
        # client; environment proxies must not apply to loopback.
        self._client = aiohttp.ClientSession(
            timeout=self._timeout, auto_decompress=False, trust_env=False,
            trace_configs=[_tracing()], cookie_jar=aiohttp.DummyCookieJar(),
        )  # fmt: skip
        checker = asyncio.create_task(self._check_forever())
        try:
            yield
        finally:
            checker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await checker
            await self._client.close()

    async def check(self) -> None:
        """Ask every backend's health URL once, at the same time."""
        assert self._client is not None

        async def one(backend: Backend) -> None:
            try:
                async with self._client.get(
                    backend.url + self.health_path,
                    timeout=aiohttp.ClientTimeout(total=HEALTH_TIMEOUT),
                ) as response:
                    healthy = response.status < 500
            except (aiohttp.ClientError, asyncio.TimeoutError):
                healthy = False
            backend.failed_checks = 0 if healthy else backend.failed_checks + 1
            if healthy or backend.state is None or backend.failed_checks >= FAILED_CHECKS_FOR_DOWN:
                backend.mark(healthy, self.name)

        await asyncio.gather(*(one(b) for b in self.backends))

    async def _check_forever(self) -> None:
        while True:
            try:
                await self.check()
            except Exception:  # a proxy without health checks would keep dead backends
                logger.exception("%s health check failed", self.name)
            await asyncio.sleep(self.health_interval)

    async def forward(self, request: web.Request) -> web.StreamResponse:
        assert self._client is not None
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return problem(413, f"the request is larger than {MAX_BODY // 2**20} MiB")
        headers = CIMultiDict(
            (k, v) for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP
        )
        if request.remote:
            headers.add("X-Forwarded-For", request.remote)
        method = request.method
        # As received, still percent-encoded: a sender id may hold "/" or Chinese (%2F...).
        path = request.raw_path
        conversation = (
            conversation_of(path, method, body) if self.routing == "conversation" else None
        )
        for backend in self.order(conversation):
            context = SimpleNamespace(connected=False)
            try:
                async with self._client.request(
                    method, URL(backend.url + path, encoded=True), headers=headers,
                    data=body, allow_redirects=False, trace_request_ctx=context,
                ) as upstream:  # fmt: skip
                    content = await upstream.read()
            except (aiohttp.ClientError, asyncio.TimeoutError) as error:
                if not context.connected:
                    backend.mark(False, self.name)  # the request never left: try the next one
                    continue
                if isinstance(error, asyncio.TimeoutError):
                    return problem(504, f"{self.name} did not answer in time")
                backend.mark(False, self.name)
                if method in SAFE_TO_REPEAT:
                    continue
                return problem(502, f"{self.name} failed while handling the request")
            backend.mark(True, self.name)
            return relay(upstream, content, backend)
        return problem(503, f"no {self.name} backend is reachable")

    async def health(self, _request: web.Request) -> web.Response:
        up = [b.name for b in self.backends if b.state]
        down = [b.name for b in self.backends if not b.state]
        return web.json_response({"up": up, "down": down}, status=200 if up else 503)

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_get(HEALTH_PATH, self.health, allow_head=False)
        app.router.add_route("*", "/{path:.*}", self.forward)
        app.cleanup_ctx.append(self.lifespan)
        return app


def relay(upstream: aiohttp.ClientResponse, content: bytes, backend: Backend) -> web.Response:
    """The backend's answer as is, with repeated headers (Set-Cookie) kept apart."""
    headers = CIMultiDict(
        (k, v) for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP
    )
    headers["X-Backend"] = backend.name
    return web.Response(body=content, status=upstream.status, headers=headers)


def problem(status: int, detail: str) -> web.Response:
    titles = {
        413: "Content Too Large", 502: "Bad Gateway", 503: "Service Unavailable",
        504: "Gateway Timeout",
    }  # fmt: skip
    body = {"type": "about:blank", "title": titles[status], "status": status, "detail": detail}
    return web.Response(
        body=json.dumps(body).encode(), status=status, content_type="application/problem+json"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", default="proxy", help="what is behind it, for messages")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--backends", required=True, help="comma-separated base URLs")
    parser.add_argument(
        "--route", choices=ROUTINGS, default="round-robin",
        help="round-robin, or keep each conversation on one backend",
    )  # fmt: skip
    parser.add_argument("--health-path", default="/health")
    parser.add_argument("--health-interval", type=float, default=2.0)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per request")
    args = parser.parse_args(argv)

    import uvloop

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
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
    uvloop.install()
    web.run_app(
        proxy.app(), host=args.host, port=args.port, access_log=None, print=None,
        handle_signals=True,
    )  # fmt: skip


if __name__ == "__main__":
    main()
