"""The gateway's one client for the Rasa server.

Messages go through Rasa's REST channel (``/webhooks/rest/webhook``); after a
reply, the conversation tracker says which slot the assistant is asking for
(``requested_slot``, so the next utterance can use the right grammar) and
whether the caller asked us to speak more slowly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

logger = logging.getLogger(__name__)


def quiet_request_logs() -> None:
    """httpx logs every request URL at INFO, and the tracker URL carries RASA_TOKEN."""
    logging.getLogger("httpx").setLevel(logging.WARNING)


class RasaUnavailable(RuntimeError):
    """Rasa did not answer (down, starting, or timed out)."""


@dataclass(frozen=True)
class BotMessage:
    text: str
    buttons: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class TrackerState:
    requested_slot: str | None = None
    latest_intent: str | None = None
    slots: dict[str, Any] = field(default_factory=dict)


def bot_messages(payload: Any) -> list[BotMessage]:
    """The REST channel's reply as text messages with buttons (images etc. are dropped)."""
    messages = []
    for item in payload if isinstance(payload, list) else []:
        if not isinstance(item, dict):
            continue
        text = item.get("text") if isinstance(item.get("text"), str) else ""
        buttons = [
            {"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
            for b in item.get("buttons") or []
            if isinstance(b, dict) and b.get("title")
        ]
        if text or buttons:
            messages.append(BotMessage(text=text, buttons=buttons))
    return messages


def tracker_path(conversation_id: str) -> str:
    """The tracker's URL path, with the conversation id as Rasa will read it.

    Rasa's Sanic does not percent-decode path parameters, so an encoded ``:``
    (``web%3A…``) would name another, empty conversation. ``:`` and ``@`` may
    stand unencoded in a path segment (RFC 3986 pchar), and with letters,
    digits and ``_ . -`` they are all our ids have (voice/conversations.py).
    """
    return f"/conversations/{quote(conversation_id, safe=':@')}/tracker"


class RasaClient:
    def __init__(self, base_url: str, *, token: str = "", timeout: float = 15.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout, connect=3.0),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
        )
        self._warned_token = False

    async def close(self) -> None:
        await self._http.aclose()

    async def send(
        self, sender: str, text: str, *, metadata: dict[str, Any] | None = None
    ) -> list[BotMessage]:
        """The reply to one user message.

        ``metadata`` (e.g. ``{"channel": "kiosk", "device": "robot-17"}``) is kept
        by Rasa's REST channel on the user event, where the actions read it
        (actions.dialogue.channel_of).
        """
        body: dict[str, Any] = {"sender": sender, "message": text}
        if metadata:
            body["metadata"] = metadata
        # One retry on a dropped keep-alive connection; a timeout is not retried
        # (Rasa may still be working on the message, and must not get it twice).
        for attempt in (1, 2):
            try:
                response = await self._http.post("/webhooks/rest/webhook", json=body)
                break
            except (httpx.ConnectError, httpx.RemoteProtocolError) as error:
                if attempt == 2:
                    raise RasaUnavailable(f"Rasa is not reachable at {self.base_url}") from error
            except httpx.HTTPError as error:
                raise RasaUnavailable(f"Rasa did not answer: {type(error).__name__}") from error
        if response.status_code != 200:
            raise RasaUnavailable(f"Rasa answered HTTP {response.status_code}")
        return bot_messages(response.json())

    async def tracker(self, sender: str) -> TrackerState:
        """Slots of the conversation; an empty state when the tracker cannot be read."""
        params = {"include_events": "NONE"}
        if self.token:
            params["token"] = self.token
        try:
            response = await self._http.get(tracker_path(sender), params=params)
        except httpx.HTTPError as error:
            logger.warning("could not read the tracker: %s", type(error).__name__)
            return TrackerState()
        if response.status_code != 200:
            if not self._warned_token:
                logger.warning(
                    "Rasa refused the tracker (HTTP %s): start it with --enable-api and the "
                    "same RASA_TOKEN; answer grammars and slow_down need it",
                    response.status_code,
                )
                self._warned_token = True
            return TrackerState()
        data = response.json()
        slots = data.get("slots") or {}
        intent = ((data.get("latest_message") or {}).get("intent") or {}).get("name")
        return TrackerState(
            requested_slot=slots.get("requested_slot"), latest_intent=intent, slots=slots
        )

    async def ready(self) -> bool:
        try:
            response = await self._http.get("/", timeout=2.0)
        except httpx.HTTPError:
            return False
        return response.status_code == 200
