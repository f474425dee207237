"""Rasa's REST channel, except that nobody is left without an answer.

When something behind Rasa fails, its own REST channel still answers 200, with an
empty list: an unreachable action server is logged and the action's events are
dropped, an unreachable tracker-store database is logged. Someone at a kiosk or on
the phone then hears nothing at all. Worse, when the action server dies during a
turn, Rasa keeps predicting (fallback actions that fail too) until its circuit
breaker trips, and it saves the conversation without a final ``action_listen``:
from then on every message trips the breaker again at once, and the conversation
stays silent for good.

This channel keeps Rasa's URL (``/webhooks/rest/webhook``) and behaviour and adds
guards; each ends in the same short apology ("say it again in a moment, or call
the hotline") instead of silence:

* before a message is handled, the action server's ``/health`` is asked. If it
  cannot be reached, the message is not handled at all, so the conversation stays
  exactly where it was (no half-run form step);
* a tripped circuit breaker fails the turn instead of saving it, so the
  conversation stays where it was before the message; saying it again goes on
  from there (and a write that did reach the exchange is found again by its
  Idempotency-Key, not filed twice);
* if the tracker store cannot be read or written (its database is down), the turn
  fails instead of going on in Rasa's fail-safe way (a new, empty conversation
  kept in memory, so the caller would be greeted as a stranger mid-form): nothing
  of the turn is saved;
* if the action server is gone after a turn, part of the turn was lost with it: the
  reply is replaced by the apology too.

Use it in bot/credentials.yml instead of ``rest:``:

    rasa_addons.channels.RestInput:
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from pydantic import BaseSettings, Field
from rasa.core.channels import rest
from rasa.core.channels.channel import CollectingOutputChannel, OutputChannel, UserMessage
from rasa.core.tracker_store import FailSafeTrackerStore
from rasa.shared.core.trackers import DialogueStateTracker
from sanic import Blueprint, Sanic

from rasa_addons import copies, graph_runner, http_pool, inference, speedups, states

logger = logging.getLogger(__name__)

APOLOGY = "对不起，系统出了点问题，刚才的话没记下。请过一会儿再说一遍，或者打{hotline}。"


class TurnAbandoned(RuntimeError):
    """Rasa's circuit breaker tripped: the turn is not saved."""


class ChannelSettings(BaseSettings):
    # The same number the actions read out (actions/settings.py).
    service_hotline: str = Field("12345", env="SERVICE_HOTLINE")
    # How long the action server's /health may take. A slow answer means busy, not gone:
    # only a refused or broken connection (or a 5xx from a proxy) counts as down.
    action_check_timeout: float = Field(2.0, gt=0, le=10, env="ACTION_CHECK_TIMEOUT")

    class Config:
        env_file = None


class RestInput(rest.RestInput):
    """``rest`` that answers even when the action server or the database fails."""

    @classmethod
    def name(cls) -> str:
        return "rest"  # same URL as Rasa's channel: the gateway needs no change

    def __init__(self) -> None:
        self.settings = ChannelSettings()
        self._app: Sanic | None = None
        # The channel is Rasa's first hook into our code.
        speedups.install()
        http_pool.install()
        inference.install()
        copies.install()
        graph_runner.install()
        states.install()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        blueprint = super().blueprint(self._guarded(on_new_message))

        @blueprint.listener("before_server_start")
        async def remember_app(app: Sanic, _loop: Any) -> None:
            # The agent (and with it the action endpoint) is loaded by another listener,
            # and replaced on a model reload, so it is looked up per message.
            self._app = app

        @blueprint.listener("after_server_stop")
        async def close_connections(_app: Sanic, _loop: Any) -> None:
            await http_pool.close_all()

        return blueprint

    @property
    def agent(self) -> Any:
        return getattr(self._app.ctx, "agent", None) if self._app else None

    def _guarded(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Callable[[UserMessage], Awaitable[None]]:
        async def handle(message: UserMessage) -> None:
            output = message.output_channel
            if not await self.action_server_up():
                logger.error("action server unreachable: message not handled, user asked again")
                await self._apologise(message)
                return
            self._fail_turns_loudly()
            try:
                await on_new_message(message)
            except Exception as error:  # noqa: BLE001 - whatever failed, the user hears why
                # Only the type: database errors carry statements and parameters.
                cause = getattr(error, "orig", None)
                logger.error(
                    "handling a message failed (%s%s): turn not saved, user asked again",
                    type(error).__name__,
                    f" / {type(cause).__name__}" if cause is not None else "",
                )
                _forget_reply(output)
                await self._apologise(message)
                return
            if not await self.action_server_up():
                logger.error("action server went away during a turn: user asked again")
                _forget_reply(output)
                await self._apologise(message)

        return handle

    def _fail_turns_loudly(self) -> None:
        """Make Rasa's swallowed failures fail the turn (set per message: agents get replaced)."""
        store = getattr(self.agent, "tracker_store", None)
        if isinstance(store, FailSafeTrackerStore):
            # Rasa's fail-safe wrapper answers an unreadable conversation with a new, empty
            # one and keeps an unsaved one in memory only: mid-form, the caller would be
            # greeted as a stranger. Its error callback may raise; then the turn fails.
            store._on_tracker_store_error = _fail_the_turn
        processor = getattr(self.agent, "processor", None)
        if processor is not None:
            # Rasa's hook for a tripped breaker; raising there skips the tracker save.
            processor.on_circuit_break = _abandon_turn

    def health_url(self) -> str | None:
        endpoint = getattr(self.agent, "action_endpoint", None)
        if endpoint is None or not endpoint.url:
            return None
        parts = urlsplit(endpoint.url)
        return f"{parts.scheme}://{parts.netloc}/health"

    async def action_server_up(self) -> bool:
        """False only when the action server cannot be reached (or a proxy says so)."""
        url = self.health_url()
        if url is None:  # no action server configured: nothing to check
            return True
        # The kept connections of the action calls: no new connection per check.
        session = http_pool.session_for(self.agent.action_endpoint)
        timeout = aiohttp.ClientTimeout(total=self.settings.action_check_timeout)
        try:
            async with session.get(url, timeout=timeout) as response:
                return response.status < 500
        except asyncio.TimeoutError:
            logger.warning("action server slow to answer its health check: taken as busy")
            return True
        except aiohttp.ClientError as error:
            logger.warning("action server health check: %s", type(error).__name__)
            return False

    async def _apologise(self, message: UserMessage) -> None:
        text = APOLOGY.format(hotline=self.settings.service_hotline)
        await message.output_channel.send_text_message(message.sender_id, text)


def _abandon_turn(tracker: DialogueStateTracker, _output: OutputChannel, _nlg: Any) -> None:
    raise TurnAbandoned(f"circuit breaker tripped after {len(tracker.events)} events")


def _fail_the_turn(error: Exception) -> None:
    raise error


def _forget_reply(output: OutputChannel) -> None:
    if isinstance(output, CollectingOutputChannel) and isinstance(output.messages, list):
        output.messages.clear()
