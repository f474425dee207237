"""One spoken conversation, whatever the transport (kiosk WebSocket or phone line).

The transport handlers (kiosk.py, phone.py) only translate frames; everything
about taking turns lives here:

- audio -> webrtcvad endpointing -> Vosk (in the shared executor), partial
  results streamed to the client, the grammar chosen by the assistant's
  ``requested_slot``;
- transcript -> Rasa -> reply text -> TTS sentence by sentence, paced in real
  time so the session knows what is being heard;
- a filler ("好的，我查一下") when the reply is slow, barge-in when the user
  speaks over the robot, and reprompts when the user says nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from voice import protocol
from voice.asr import AsrUnavailable, Recognition, Utterance
from voice.audio import chunks, duration_s
from voice.pipeline import Pipeline, Reply
from voice.rasa_client import BotMessage, RasaUnavailable
from voice.textnorm import spoken_choices
from voice.vad import Endpointer, SpeechAudio, SpeechEnd, SpeechStart

logger = logging.getLogger(__name__)

UNAVAILABLE_TEXT = "系统有点忙，请稍后再说一遍。"


class Output(Protocol):
    """What a transport gives a session to talk back with."""

    sample_rate: int  # of the audio it plays
    frame_bytes: int  # audio is sent in frames of this size
    lead_s: float  # how far ahead of real time audio may be sent
    one_as_yao: bool

    async def event(self, message: protocol.ServerMessage) -> None: ...

    async def audio(self, pcm: bytes) -> None: ...

    async def end(self, reason: str) -> None: ...


class VoiceSession:
    def __init__(
        self,
        pipeline: Pipeline,
        conversation_id: str,
        output: Output,
        *,
        speak: bool = True,
        metadata: dict[str, str] | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.settings = pipeline.settings
        # Made by the transport (voice/conversations.py), never the client's own id.
        self.conversation_id = conversation_id
        self.out = output
        self.speak = speak
        # Sent with every message to Rasa: the channel (and the kiosk device).
        self.metadata = dict(metadata or {})
        self.conv = pipeline.conversation(conversation_id)
        s = self.settings
        self.endpointer = Endpointer(
            sample_rate=16000,
            aggressiveness=s.vad_aggressiveness,
            min_speech_ms=s.min_speech_ms,
            trailing_silence_ms=self.conv.profile.trailing_silence_ms(),
            pre_roll_ms=s.pre_roll_ms,
            max_utterance_ms=int(s.max_utterance_s * 1000),
        )
        self._loop = asyncio.get_running_loop()
        self._asr_queue: asyncio.Queue[bytes | None] | None = None
        self._asr_task: asyncio.Task[Recognition] | None = None
        self._turn_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task] = set()
        self._reprompt_task: asyncio.Task | None = None
        self._reprompts = 0
        self._last_reply: Reply | None = None
        self._playing: str | None = None  # kind of audio being played
        self._barge_in = asyncio.Event()
        self._closed = False
        pipeline.active_sessions += 1

    # --- input from the transport ---------------------------------------------

    @property
    def asr_available(self) -> bool:
        return self.pipeline.asr is not None

    @property
    def speaking(self) -> bool:
        return self._playing is not None

    def feed(self, pcm16k: bytes) -> None:
        """Audio from the user, 16 kHz 16-bit mono. Never blocks."""
        if self._closed:
            return
        for event in self.endpointer.process(pcm16k):
            if isinstance(event, SpeechStart):
                self._on_speech_start(event)
            elif isinstance(event, SpeechAudio):
                self._push_audio(event.pcm)
                if self.speaking and self.endpointer.voiced_ms >= self.settings.barge_in_ms:
                    self.barge_in()
            elif isinstance(event, SpeechEnd):
                self._on_speech_end(event)

    def end_of_audio(self) -> None:
        """The client stopped sending audio: end the current utterance now."""
        end = self.endpointer.flush()
        if end is not None:
            self._on_speech_end(end)
        else:
            self._spawn(self.out.event(protocol.Transcript(text="", confidence=0.0)))

    def text(self, text: str) -> None:
        """Typed input or a button payload: a turn without recognition."""
        self._user_turn_started()
        if self.speaking:
            self.barge_in()
        self._spawn(self._respond(text, ended_at=self._loop.time()))

    async def say(self, text: str) -> bool:
        """Say a fixed text (not from the assistant); True when interrupted."""
        return await self._speak_text(text, rate=self.pipeline.reply_rate(self.conv), kind="reply")

    def barge_in(self) -> None:
        if self.speaking and not self._barge_in.is_set():
            logger.info("barge-in: the user spoke over the reply")
            self._barge_in.set()

    async def close(self) -> None:
        if not self._closed:
            self.pipeline.active_sessions -= 1
        self._closed = True
        self._barge_in.set()
        tasks = [t for t in (*self._tasks, self._reprompt_task, self._asr_task) if t]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # --- recognition -------------------------------------------------------------

    def _on_speech_start(self, event: SpeechStart) -> None:
        self._user_turn_started()
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        queue.put_nowait(event.pre_roll)
        self._asr_queue = queue
        self._asr_task = asyncio.ensure_future(self._recognise(queue))

    def _push_audio(self, pcm: bytes) -> None:
        if self._asr_queue is not None:
            self._asr_queue.put_nowait(pcm)

    def _on_speech_end(self, event: SpeechEnd) -> None:
        ended_at = self._loop.time()
        if self._asr_queue is None or self._asr_task is None:
            return
        self._asr_queue.put_nowait(None)
        task, self._asr_queue, self._asr_task = self._asr_task, None, None
        self._spawn(self._voice_turn(task, event, ended_at))

    async def _recognise(self, queue: asyncio.Queue[bytes | None]) -> Recognition:
        utterance: Utterance = await self.pipeline.run_blocking(self.pipeline.utterance, self.conv)
        while True:
            items = [await queue.get()]
            while not queue.empty():  # catch up in one call if decoding fell behind
                items.append(queue.get_nowait())
            done = items[-1] is None
            pcm = b"".join(i for i in items if i)
            if pcm:
                partial = await self.pipeline.run_blocking(utterance.accept, pcm)
                if partial:
                    await self.out.event(protocol.Partial(text=partial))
            if done:
                return await self.pipeline.run_blocking(utterance.finish)

    async def _voice_turn(
        self, task: asyncio.Task[Recognition], end: SpeechEnd, ended_at: float
    ) -> None:
        try:
            result = await task
        except AsrUnavailable as error:
            await self.out.event(protocol.Error("asr_unavailable", str(error)))
            return
        await self.out.event(
            protocol.Transcript(
                text=result.text,
                confidence=result.confidence,
                message=result.message,
                grammar=result.grammar,
            )
        )
        if not result.message.strip():
            # Noise or a cough: nothing for the assistant, keep waiting.
            if self.speak and self._last_reply is not None and self._last_reply.expects_answer:
                self._arm_reprompt()
            return
        profile = self.conv.profile
        profile.record(text=result.text, voiced_ms=end.voiced_ms, pauses_ms=end.pauses_ms)
        self.endpointer.trailing_silence_ms = profile.trailing_silence_ms()
        await self._respond(result.message, ended_at=ended_at)

    # --- replies -----------------------------------------------------------------

    def _user_turn_started(self) -> None:
        self._reprompts = 0
        if self._reprompt_task is not None and not self.speaking:
            self._reprompt_task.cancel()
            self._reprompt_task = None

    async def _respond(self, text: str, *, ended_at: float) -> None:
        async with self._turn_lock:
            if self._closed:
                return
            filler = asyncio.ensure_future(self._filler(ended_at)) if self.speak else None
            try:
                reply = await self.pipeline.respond(
                    self.conversation_id, text, metadata=self.metadata
                )
            except RasaUnavailable as error:
                logger.error("no reply from Rasa: %s", error)
                await self.out.event(protocol.Error("assistant_unavailable", str(error)))
                reply = Reply([BotMessage(UNAVAILABLE_TEXT)], self.pipeline.reply_rate(self.conv))
            finally:
                if filler is not None:
                    if filler.done() or self._playing == "filler":
                        with contextlib.suppress(asyncio.CancelledError):
                            await filler  # let a started filler finish: it is short
                    else:
                        filler.cancel()
            self._last_reply = reply
            interrupted = await self._play(reply.messages, rate=reply.speech_rate, kind="reply")
            # Reprompts are for spoken conversations; a text-only widget just waits.
            if not interrupted and reply.expects_answer and self.speak:
                self._arm_reprompt()

    async def _filler(self, ended_at: float) -> None:
        delay = self.settings.filler_delay_ms / 1000 - (self._loop.time() - ended_at)
        await asyncio.sleep(max(0.0, delay))
        await self._speak_text(
            self.settings.filler_text, rate=self.pipeline.reply_rate(self.conv), kind="filler"
        )

    async def _play(
        self, messages: list[BotMessage], *, rate: int, kind: str, reprompt: bool = False
    ) -> bool:
        """Show and say the messages; True when the user interrupted."""
        interrupted = False
        for message in messages:
            await self.out.event(
                protocol.Bot(
                    text=message.text,
                    buttons=[protocol.Button(b["title"], b["payload"]) for b in message.buttons],
                    speech_rate=rate,
                    reprompt=reprompt,
                )
            )
            if self.speak and not interrupted and not self._closed:
                spoken = spoken_choices(message.text, [b["title"] for b in message.buttons])
                interrupted = await self._speak_text(spoken, rate=rate, kind=kind)
        return interrupted

    async def _speak_text(self, text: str, *, rate: int, kind: str) -> bool:
        """Say ``text`` in real time; True when barge-in stopped it."""
        self._barge_in.clear()
        self._playing = kind
        try:
            return await self._stream_speech(text, rate=rate, kind=kind)
        finally:
            self._playing = None

    async def _stream_speech(self, text: str, *, rate: int, kind: str) -> bool:
        out = self.out
        started, interrupted = False, False
        sent_s, start = 0.0, self._loop.time()
        speech = self.pipeline.speech(
            text, rate=rate, sample_rate=out.sample_rate, one_as_yao=out.one_as_yao
        )
        try:
            async with contextlib.aclosing(speech):
                async for pcm in speech:
                    if not started:
                        await out.event(protocol.AudioStart(sample_rate=out.sample_rate, kind=kind))
                        started, start = True, self._loop.time()
                    for frame in chunks(pcm, out.frame_bytes):
                        ahead = sent_s - (self._loop.time() - start)
                        if ahead > out.lead_s:
                            await asyncio.sleep(ahead - out.lead_s)
                        if self._barge_in.is_set():
                            interrupted = True
                            break
                        await out.audio(frame)
                        sent_s += duration_s(frame, out.sample_rate)
                    if interrupted:
                        break
        except (RuntimeError, OSError, ValueError) as error:
            # A failed synthesis must not end the conversation: the text was shown.
            logger.error("speech synthesis failed: %s", error)
        if started:
            await out.event(protocol.AudioEnd(interrupted=interrupted))
        remaining = sent_s - (self._loop.time() - start)
        if not interrupted and remaining > 0:  # until the listener has heard it all
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._barge_in.wait(), remaining)
            interrupted = self._barge_in.is_set()
        return interrupted

    # --- silence ----------------------------------------------------------------------

    def _arm_reprompt(self) -> None:
        if self._reprompt_task is not None:
            self._reprompt_task.cancel()
        self._reprompt_task = asyncio.ensure_future(self._reprompt_after_silence())

    async def _reprompt_after_silence(self) -> None:
        await asyncio.sleep(self.settings.reprompt_seconds)
        if self.endpointer.in_speech or self._closed:
            return
        self._reprompts += 1
        step = self.settings.speech_rate_step
        rate = self.pipeline.reply_rate(self.conv, slower=step)
        async with self._turn_lock:
            if self._reprompts == 1 and self._last_reply is not None:
                # The question once more, more slowly.
                messages, kind = self._last_reply.messages[-1:], "reprompt"
            elif self._reprompts <= 2:
                button = {
                    "title": self.settings.human_handoff_title,
                    "payload": self.settings.human_handoff_payload,
                }
                messages, kind = (
                    [BotMessage(self.settings.reprompt_offer_text, [button])],
                    "reprompt",
                )
            else:
                await self._play(
                    [BotMessage(self.settings.goodbye_text)],
                    rate=rate,
                    kind="reprompt",
                    reprompt=True,
                )
                await self.out.end("no_input")
                return
            interrupted = await self._play(messages, rate=rate, kind=kind, reprompt=True)
        if not interrupted and not self._closed:
            self._reprompt_task = None
            self._arm_reprompt()

    # --- helpers -------------------------------------------------------------------------

    def _spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("voice session task failed", exc_info=task.exception())
