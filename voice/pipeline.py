"""The one pipeline a gateway process shares between all its sessions.

It holds the Vosk model (loaded once), the Rasa client, the TTS worker pool,
the bounded executor for blocking recogniser calls, and a small per-conversation
state (reply speech rate, requested slot, caller profile) that both the voice
sessions and the widget's HTTP chat use. Nothing here is created at import
time: ``Pipeline.create`` runs in the app's lifespan (or the phone server's
start-up).
"""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from voice import conversations
from voice.adapt import CallerProfile
from voice.asr import AsrModel, AsrUnavailable, Grammar, Utterance, grammar_for_slot
from voice.rasa_client import BotMessage, RasaClient, TrackerState
from voice.settings import VoiceSettings
from voice.tts import Synthesizer

logger = logging.getLogger(__name__)
T = TypeVar("T")

MAX_CONVERSATIONS = 20_000
SLOW_WORDS = ("slow", "slower", "慢")


@dataclass
class Conversation:
    conversation_id: str  # voice/conversations.py
    profile: CallerProfile
    requested_slot: str | None = None
    # The assistant's speech_rate slot (a factor of the normal pace), and the
    # steps slower the gateway went itself when "说慢点" did not lower it.
    rate_factor: float = 1.0
    extra_slow_steps: int = 0
    speech_rate: int = 0  # words per minute, derived from the two above


@dataclass(frozen=True)
class Reply:
    messages: list[BotMessage]
    speech_rate: int
    requested_slot: str | None = None
    tracker: TrackerState = field(default_factory=TrackerState)

    @property
    def expects_answer(self) -> bool:
        """Worth a reprompt if nobody answers: a question, choices, or a form slot."""
        if self.requested_slot:
            return True
        last = self.messages[-1] if self.messages else None
        return bool(last and (last.buttons or last.text.rstrip().endswith(("？", "?"))))


class Pipeline:
    def __init__(
        self,
        settings: VoiceSettings,
        *,
        asr: AsrModel | None,
        asr_error: str | None,
        tts: Synthesizer,
        rasa: RasaClient,
        executor: ThreadPoolExecutor,
    ) -> None:
        self.settings = settings
        self.asr = asr
        self.asr_error = asr_error
        self.tts = tts
        self.rasa = rasa
        self.executor = executor
        self._conversations: collections.OrderedDict[str, Conversation] = collections.OrderedDict()
        self.active_sessions = 0  # spoken sessions open now (kiosk and phone)

    @property
    def full(self) -> bool:
        return self.active_sessions >= self.settings.max_sessions

    @classmethod
    async def create(cls, settings: VoiceSettings | None = None) -> Pipeline:
        settings = settings or VoiceSettings()
        executor = ThreadPoolExecutor(settings.asr_executor_size, thread_name_prefix="asr")
        loop = asyncio.get_running_loop()
        asr, asr_error = None, None
        try:
            asr = await loop.run_in_executor(
                executor, AsrModel, settings.vosk_model_path, settings.asr_language
            )
        except AsrUnavailable as error:
            asr_error = str(error)
            logger.warning("speech recognition is off: %s", error)
        tts = Synthesizer(
            voice=settings.tts_voice,
            workers=settings.tts_workers,
            cache_size=settings.tts_cache_size,
            lexicon_path=settings.lexicon_path,
        )
        await tts.start()
        rasa = RasaClient(
            settings.rasa_url, token=settings.rasa_token, timeout=settings.rasa_timeout_s
        )
        return cls(settings, asr=asr, asr_error=asr_error, tts=tts, rasa=rasa, executor=executor)

    async def close(self) -> None:
        await self.rasa.close()
        await self.tts.close()
        self.executor.shutdown(wait=False, cancel_futures=True)

    async def run_blocking(self, func: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, functools.partial(func, *args))

    # --- conversations -------------------------------------------------------

    def conversation(self, conversation_id: str) -> Conversation:
        """The gateway's own state of a conversation, by its (namespaced) id."""
        conv = self._conversations.get(conversation_id)
        if conv is None:
            s = self.settings
            conv = Conversation(
                conversation_id=conversation_id,
                speech_rate=s.speech_rate,
                profile=CallerProfile(
                    base_silence_ms=s.trailing_silence_ms,
                    max_silence_ms=s.max_trailing_silence_ms,
                    adapt_after_turns=s.adapt_after_turns,
                    slow_syllables_per_s=s.slow_syllables_per_s,
                    slow_pause_ms=s.slow_pause_ms,
                ),
            )
            self._conversations[conversation_id] = conv
            while len(self._conversations) > MAX_CONVERSATIONS:
                self._conversations.popitem(last=False)
        self._conversations.move_to_end(conversation_id)
        return conv

    def reply_rate(self, conv: Conversation, *, slower: int = 0) -> int:
        """Words per minute for this conversation's next reply."""
        s = self.settings
        rate = conv.speech_rate + conv.profile.rate_offset(s.speech_rate_step) - slower
        return max(s.min_speech_rate, rate)

    async def respond(
        self, conversation_id: str, text: str, *, metadata: dict[str, Any] | None = None
    ) -> Reply:
        """Send the user's words to Rasa; the reply and the state that shapes the next turn.

        ``conversation_id`` is the gateway's (voice/conversations.py), never a
        client's own sender: the one place every message passes checks it.
        ``metadata`` says where the words came from (``channel``: kiosk, phone or
        web; ``device`` for a kiosk robot); Rasa keeps it on the user event.
        """
        if conversations.namespace(conversation_id) is None:
            raise ValueError(f"not a gateway conversation id: {conversation_id[:80]!r}")
        messages = await self.rasa.send(conversation_id, text, metadata=metadata)
        state = await self.rasa.tracker(conversation_id)
        conv = self.conversation(conversation_id)
        conv.requested_slot = state.requested_slot
        self._apply_speech_rate(conv, state)
        return Reply(messages, self.reply_rate(conv), state.requested_slot, state)

    def _apply_speech_rate(self, conv: Conversation, state: TrackerState) -> None:
        """Follow the assistant's ``speech_rate`` slot and its ``slow_down`` intent.

        The domain keeps ``speech_rate`` as a factor of the normal pace (1.0,
        then 0.8, 0.65 after "说慢点"; a value above 3 is taken as words per
        minute). When the user asked to slow down and the slot did not go
        down, the gateway slows down one step itself, for the rest of the
        conversation.
        """
        s = self.settings
        value = state.slots.get("speech_rate")
        factor = conv.rate_factor
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            factor = value if value <= 3 else value / s.speech_rate
        elif isinstance(value, str) and value.strip().lower() in SLOW_WORDS:
            factor = min(factor, (s.speech_rate - s.speech_rate_step) / s.speech_rate)
        if state.latest_intent == "slow_down" and factor >= conv.rate_factor:
            conv.extra_slow_steps += 1
        conv.rate_factor = factor
        rate = round(s.speech_rate * factor) - conv.extra_slow_steps * s.speech_rate_step
        if state.slots.get("slow_down") is True:
            rate = min(rate, s.speech_rate - s.speech_rate_step)
        conv.speech_rate = max(s.min_speech_rate, min(300, rate))

    # --- speech ------------------------------------------------------------------

    def grammar(self, conv: Conversation) -> Grammar | None:
        return grammar_for_slot(
            self.asr,
            conv.requested_slot,
            digit_slots=self.settings.digit_slots,
            yes_no_slots=self.settings.yes_no_slots,
        )

    def utterance(self, conv: Conversation, sample_rate: int = 16000) -> Utterance:
        if self.asr is None:
            raise AsrUnavailable(self.asr_error or "no Vosk model")
        return self.asr.utterance(
            sample_rate,
            self.grammar(conv),
            max_seconds=self.settings.max_utterance_s,
            min_confidence=self.settings.grammar_min_confidence,
        )

    def speech(
        self, text: str, *, rate: int, sample_rate: int, one_as_yao: bool = False
    ) -> AsyncIterator[bytes]:
        return self.tts.stream(text, rate=rate, sample_rate=sample_rate, one_as_yao=one_as_yao)
