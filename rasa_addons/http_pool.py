"""Kept-alive HTTP sessions for Rasa's calls to the action server.

Rasa 3.6's ``EndpointConfig.session()`` makes a new aiohttp ``ClientSession`` for
every call, so every action call (and every health check of the REST channel)
opens and closes its own TCP connection, on Rasa's single event loop and on the
action server's. Each call also sends the whole conversation and the whole
domain (about 30 KB for this bot), encoded with the standard ``json`` module.

Here one session per event loop (and per set of default headers and
credentials) is lent to every ``async with endpoint.session()``: leaving the
block keeps it open, so its connections are reused. Bodies are encoded with
orjson, falling back to ``json`` for anything orjson does not take.

Idle connections are closed after ``KEEPALIVE_S``, well before Sanic's (the
action server's) 5 s keep-alive ends: a connection is never reused just as the
server closes it. A connection the server closed (action server restarted) is
noticed by the event loop and not reused.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from typing import Any

import aiohttp
import orjson
from rasa.utils.endpoints import DEFAULT_REQUEST_TIMEOUT, EndpointConfig

KEEPALIVE_S = 2.0
_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY

_Key = tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]
_sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[_Key, aiohttp.ClientSession]]
_sessions = weakref.WeakKeyDictionary()


def dumps(value: Any) -> str:
    """JSON text of ``value``, as ``json.dumps`` would accept it."""
    try:
        return orjson.dumps(value, option=_ORJSON_OPTIONS).decode()
    except TypeError:  # orjson.JSONEncodeError: e.g. an int above 64 bits
        return json.dumps(value)


class _Lent:
    """``async with`` lends the kept session; leaving the block does not close it."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def __aenter__(self) -> aiohttp.ClientSession:
        return self._session

    async def __aexit__(self, *_exc: object) -> None:
        return None


def session_for(endpoint: EndpointConfig) -> aiohttp.ClientSession:
    """The kept session with ``endpoint``'s headers and credentials, on this loop."""
    loop = asyncio.get_running_loop()
    headers = tuple(sorted((str(k), str(v)) for k, v in (endpoint.headers or {}).items()))
    auth = endpoint.basic_auth or {}
    key = (headers, tuple(sorted((str(k), str(v)) for k, v in auth.items())))
    kept = _sessions.setdefault(loop, {})
    session = kept.get(key)
    if session is None or session.closed:
        session = aiohttp.ClientSession(
            headers=endpoint.headers,
            auth=aiohttp.BasicAuth(auth["username"], auth["password"]) if auth else None,
            timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
            connector=aiohttp.TCPConnector(keepalive_timeout=KEEPALIVE_S),
            json_serialize=dumps,
        )
        kept[key] = session
    return session


def _lend(self: EndpointConfig) -> _Lent:
    return _Lent(session_for(self))


async def close_all() -> None:
    """Close this loop's kept sessions (when the server stops)."""
    kept = _sessions.pop(asyncio.get_running_loop(), {})
    for session in kept.values():
        await session.close()


def install() -> None:
    """Lend kept sessions to Rasa's endpoints (idempotent)."""
    EndpointConfig.session = _lend  # type: ignore[method-assign,assignment]
