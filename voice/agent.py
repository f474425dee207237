"""Agent view: hall staff see open handover requests and take one.

``GET /agent`` (the page, web/agent.html), ``GET /v1/agent/handovers`` and
``POST /v1/agent/handovers/{id}/take`` all need the staff password
(``AGENT_PASSWORD``) by HTTP Basic. The user name is the staff member's ID; it is
recorded as the agent who took a request. ``VOICE_AGENT_MAX_FAILURES`` wrong
passwords from one address lock signing in from there for
``VOICE_AGENT_LOCK_MINUTES`` (429 with Retry-After). The handover queue lives in the
exchange and is read and updated through the one signed exchange client.

``install(app)`` adds the routes and the 401 challenge; the gateway calls it
before mounting web/.
"""

from __future__ import annotations

import logging
import math
import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, FastAPI, Path, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPBasic, HTTPBasicCredentials

from common.redact import redact
from exchange.client import (
    AsyncExchangeClient,
    ExchangeUnavailable,
    NotFound,
    Rejected,
    idempotency_key,
)
from voice.access import client_address
from voice.problems import MEDIA_TYPE, Problem
from voice.ratelimit import FailureLock
from voice.settings import DEV_AGENT_PASSWORD

logger = logging.getLogger(__name__)

REALM = "agent-view"  # header values must be ASCII
AGENT_NAME = re.compile(r"[A-Za-z0-9_.@-]{1,32}")
NO_STORE = {"Cache-Control": "no-store"}

_basic = HTTPBasic(realm=REALM, auto_error=False)


class SignInRequired(Exception):
    """No, or wrong, staff credentials: answered with a Basic challenge (see ``install``)."""


class SignInLocked(Exception):
    """Too many wrong passwords from this address: 429 until the lock ends."""

    def __init__(self, wait_s: float) -> None:
        super().__init__(f"locked for {wait_s:.0f} s")
        self.wait_s = wait_s


async def require_agent(
    request: Request, credentials: Annotated[HTTPBasicCredentials | None, Depends(_basic)]
) -> str:
    """The signed-in staff member's ID.

    Async on purpose: the sign-in lock is event-loop state (a sync dependency
    would run in a worker thread).
    """
    if credentials is None:
        raise SignInRequired
    lock: FailureLock = request.app.state.access.agent_sign_in
    address = client_address(request)
    # Locked means locked: even the right password waits, or guessing would go on.
    if wait := lock.locked(address):
        raise SignInLocked(wait)
    expected = request.app.state.settings.agent_password.get_secret_value().encode()
    # Compare the password in constant time even when the name is malformed.
    password_ok = secrets.compare_digest(credentials.password.encode(), expected)
    if not (password_ok and AGENT_NAME.fullmatch(credentials.username)):
        if wait := lock.failed(address):
            logger.warning(
                "agent view: too many wrong passwords from %s, signing in locked for %.0f min",
                address,
                wait / 60,
            )
            raise SignInLocked(wait)
        logger.warning("agent view: refused a sign-in")
        raise SignInRequired
    lock.succeeded(address)
    return credentials.username


Agent = Annotated[str, Depends(require_agent)]


def same_origin_json(request: Request) -> None:
    """Writes come from the agent page itself, never from another site.

    Browsers send Basic credentials with any request to this host, so a page
    elsewhere could post a form here (CSRF). A JSON body from another origin
    needs a CORS preflight, which the gateway never grants.
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    site = request.headers.get("sec-fetch-site", "same-origin")
    origin = request.headers.get("origin")
    # Hosts only: behind a TLS-terminating proxy the scheme seen here differs.
    foreign = origin is not None and urlsplit(origin).netloc != request.headers.get("host")
    if content_type != "application/json" or site not in ("same-origin", "none") or foreign:
        raise Problem(403, "Cross-site request refused", "send JSON from the agent page")


SameOriginJson = Depends(same_origin_json)
HandoverId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


def exchange(request: Request) -> AsyncExchangeClient:
    return request.app.state.agent_exchange


Exchange = Annotated[AsyncExchangeClient, Depends(exchange)]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = app.state.settings
    if settings.agent_password.get_secret_value() == DEV_AGENT_PASSWORD:
        logger.warning("agent view uses the development password: set AGENT_PASSWORD")
    app.state.agent_exchange = AsyncExchangeClient(
        settings.exchange_url,
        settings.exchange_client_id,
        settings.exchange_client_secret.get_secret_value(),
        timeout=settings.exchange_timeout_s,
    )
    try:
        yield
    finally:
        await app.state.agent_exchange.aclose()


router = APIRouter(tags=["agent"], lifespan=lifespan)


@router.get("/agent", response_class=FileResponse, include_in_schema=False)
async def agent_page(request: Request, agent: Agent) -> FileResponse:
    return FileResponse(request.app.state.settings.web_dir / "agent.html", headers=NO_STORE)


@router.get("/v1/agent/handovers")
async def open_handovers(agent: Agent, client: Exchange) -> JSONResponse:
    try:
        handovers = await client.handovers(status="open")
    except ExchangeUnavailable as error:
        raise Problem(503, "Handover queue unavailable", str(error)) from error
    # Summaries are masked by the assistant; mask again in case a citizen typed a
    # number in a turn that was kept verbatim.
    return JSONResponse({"agent": agent, "handovers": _masked(handovers)}, headers=NO_STORE)


@router.post("/v1/agent/handovers/{handover_id}/take", dependencies=[SameOriginJson])
async def take_handover(handover_id: HandoverId, agent: Agent, client: Exchange) -> JSONResponse:
    try:
        # Keyed, so a retried take after a timeout cannot count twice.
        key = idempotency_key("take-handover", handover_id, agent)
        taken = await client.take_handover(handover_id, agent=agent, idempotency_key=key)
    except NotFound as error:
        raise Problem(404, "No such handover", f"no handover {handover_id}") from error
    except Rejected as error:
        status = error.status if error.status in (409, 422) else 400
        raise Problem(status, "Handover not taken", error.detail or str(error)) from error
    except ExchangeUnavailable as error:
        raise Problem(503, "Handover queue unavailable", str(error)) from error
    logger.info("agent %s took handover %s", agent, handover_id)
    return JSONResponse({"agent": agent, **_masked(taken)}, headers=NO_STORE)


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [_masked(item) for item in value]
    if isinstance(value, dict):
        return {key: _masked(item) for key, item in value.items()}
    return value


_CHALLENGE = {"WWW-Authenticate": f'Basic realm="{REALM}", charset="UTF-8"', **NO_STORE}
_SIGN_IN_PAGE = """<!doctype html>
<html lang="zh-CN"><meta charset="utf-8"><title>需要登录</title>
<body style="font:20px/1.6 sans-serif;margin:2rem">
<h1>需要登录</h1><p>请刷新页面，输入您的工号和工作人员密码。</p></body></html>"""


_LOCKED_PAGE = """<!doctype html>
<html lang="zh-CN"><meta charset="utf-8"><title>请稍后再试</title>
<body style="font:20px/1.6 sans-serif;margin:2rem">
<h1>请稍后再试</h1><p>密码输错的次数太多了。请 {minutes} 分钟后再登录。</p></body></html>"""


async def _locked(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInLocked)
    seconds = max(1, math.ceil(exc.wait_s))
    headers = {"Retry-After": str(seconds), **NO_STORE}
    if request.url.path == "/agent":
        page = _LOCKED_PAGE.format(minutes=max(1, math.ceil(seconds / 60)))
        return HTMLResponse(page, status_code=429, headers=headers)
    body = {
        "type": "about:blank",
        "title": "Too many wrong passwords",
        "status": 429,
        "detail": f"signing in from this address is locked for {seconds} s",
    }
    return JSONResponse(body, status_code=429, media_type=MEDIA_TYPE, headers=headers)


async def _challenge(request: Request, _: Exception) -> Response:
    if request.url.path == "/agent":
        return HTMLResponse(_SIGN_IN_PAGE, status_code=401, headers=_CHALLENGE)
    body = {
        "type": "about:blank",
        "title": "Sign-in required",
        "status": 401,
        "detail": "the agent view needs the staff ID and password (HTTP Basic)",
    }
    return JSONResponse(body, status_code=401, media_type=MEDIA_TYPE, headers=_CHALLENGE)


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.add_exception_handler(SignInRequired, _challenge)
    app.add_exception_handler(SignInLocked, _locked)
