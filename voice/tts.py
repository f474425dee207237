"""Speech synthesis with pyttsx3 and espeak-ng's Mandarin voice, off the event loop.

pyttsx3 drives libespeak-ng, which keeps global state (voice, rate) and is not
safe to call from two threads. Each synthesis worker is therefore its own
process with its own engine (a ``ProcessPoolExecutor`` of ``tts_workers``
processes, started once per gateway): the event loop never blocks, a crash in
espeak cannot take the gateway down, and a broken pool is replaced.

The voice is ``cmn-latn-pinyin``, chosen by id. Debian's plain ``cmn`` voice
reads Chinese through English spelling rules ("你好" becomes "ni three hao
three"); the pinyin voice speaks real Mandarin tones and reads the lexicon's
tone-numbered pinyin.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import io
import logging
import multiprocessing
import os
import tempfile
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from voice import audio, textnorm

logger = logging.getLogger(__name__)

ESPEAK_RATE = 22050  # pyttsx3's espeak driver always writes 22.05 kHz


class VoiceNotFound(RuntimeError):
    pass


def find_voice(engine, wanted: str) -> str:
    """The id of the installed voice ``wanted`` (an id such as ``cmn-latn-pinyin``)."""
    voices = engine.getProperty("voices")
    for voice in voices:
        if voice.id == wanted or voice.id.endswith("/" + wanted):
            return voice.id
    raise VoiceNotFound(
        f"espeak-ng voice {wanted!r} is not installed "
        f"(found {len(voices)} voices; install espeak-ng with its Mandarin data)"
    )


# --- inside a worker process ------------------------------------------------

_engine = None
_tmpdir: str | None = None


def _init_worker(voice: str) -> None:
    """Start this worker process's own engine (espeak keeps one global state per process)."""
    global _engine, _tmpdir
    import multiprocessing.util
    import shutil
    import signal

    import pyttsx3
    from pyttsx3.drivers import _espeak

    _engine = pyttsx3.init("espeak")
    _engine.setProperty("voice", find_voice(_engine, voice))
    # The first runAndWait applies the queued voice change; wait until espeak's
    # own command queue is empty so nothing is left for the first reply.
    with contextlib.redirect_stdout(io.StringIO()):
        _engine.runAndWait()
    _espeak.Synchronize()
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108 - RAM-backed scratch
    _tmpdir = tempfile.mkdtemp(prefix="voice-tts-", dir=shm)
    multiprocessing.util.Finalize(None, shutil.rmtree, args=(_tmpdir, True), exitpriority=1)
    # Ctrl-C or SIGTERM to the process group is for the gateway, which then
    # shuts the pool down in order (a worker also exits when the gateway is gone).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _synthesize(text: str, rate: int, sample_rate: int) -> bytes:
    assert _engine is not None and _tmpdir is not None
    path = os.path.join(_tmpdir, "out.wav")
    # The rate goes into the text as espeak's embedded speed command (ctrl-A,
    # value, S). Setting pyttsx3's "rate" property instead is lost at random:
    # espeak runs asynchronously under pyttsx3, and runAndWait's stop() cancels
    # a parameter change that is still in espeak's queue.
    command = f"\x01{int(rate)}S{text}"
    for _attempt in (1, 2):
        # pyttsx3's espeak driver prints "Audio saved to ..." for every file.
        with contextlib.redirect_stdout(io.StringIO()):
            _engine.save_to_file(command, path)
            _engine.runAndWait()
        if os.path.exists(path):
            with open(path, "rb") as wav:
                pcm, src_rate = audio.read_wav(wav.read())
            os.unlink(path)
            if pcm:
                return audio.resample(pcm, src_rate, sample_rate)
    raise RuntimeError("espeak-ng produced no audio")


def _current_voice() -> str:
    assert _engine is not None
    return str(_engine.getProperty("voice"))


# --- in the gateway -------------------------------------------------------------


class Synthesizer:
    """Text in, 16-bit mono PCM out, one sentence at a time."""

    def __init__(
        self,
        *,
        voice: str = "cmn-latn-pinyin",
        workers: int = 1,
        cache_size: int = 256,
        lexicon_path: os.PathLike | None = None,
    ) -> None:
        self.voice = voice
        self.workers = workers
        self.cache_size = cache_size
        self.lexicon = (
            textnorm.load_lexicon(lexicon_path) if lexicon_path else textnorm.load_lexicon()
        )
        self.voice_id = ""
        self._pool: ProcessPoolExecutor | None = None
        self._cache: collections.OrderedDict[tuple[str, int, int], bytes] = (
            collections.OrderedDict()
        )

    def _new_pool(self) -> ProcessPoolExecutor:
        # spawn, not fork: the gateway has threads and a loaded Vosk model.
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(self.voice,),
        )

    async def start(self) -> None:
        self._pool = self._new_pool()
        loop = asyncio.get_running_loop()
        # Start every worker now (and fail now if the voice is missing), not on
        # the first caller's reply.
        warmups = [
            loop.run_in_executor(self._pool, _synthesize, "您好", 150, 16000)
            for _ in range(self.workers)
        ]
        await asyncio.gather(*warmups)
        self.voice_id = await loop.run_in_executor(self._pool, _current_voice)
        logger.info("TTS ready: voice %s, %d worker process(es)", self.voice_id, self.workers)

    async def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def speakable(self, text: str, *, one_as_yao: bool = False) -> str:
        return textnorm.speakable(text, one_as_yao=one_as_yao, lexicon=self.lexicon)

    async def synthesize(self, sentence: str, *, rate: int, sample_rate: int) -> bytes:
        """One already-normalised sentence as PCM at ``sample_rate``."""
        key = (sentence, int(rate), sample_rate)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        if self._pool is None:
            raise RuntimeError("Synthesizer.start() was not called")
        loop = asyncio.get_running_loop()
        try:
            pcm = await loop.run_in_executor(
                self._pool, _synthesize, sentence, int(rate), sample_rate
            )
        except BrokenProcessPool:
            logger.error("a TTS worker died; starting a new pool")
            self._pool = self._new_pool()
            pcm = await loop.run_in_executor(
                self._pool, _synthesize, sentence, int(rate), sample_rate
            )
        if self.cache_size:
            self._cache[key] = pcm
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return pcm

    async def stream(
        self, text: str, *, rate: int, sample_rate: int, one_as_yao: bool = False
    ) -> AsyncIterator[bytes]:
        """Speak ``text`` sentence by sentence: the first is ready before the rest.

        All sentences are queued at once, so while the first one plays the
        workers already make the next. Leaving the loop early (barge-in)
        cancels the sentences not yet made.
        """
        parts = textnorm.sentences(self.speakable(text, one_as_yao=one_as_yao))
        tasks = [
            asyncio.ensure_future(self.synthesize(p, rate=rate, sample_rate=sample_rate))
            for p in parts
        ]
        try:
            for task in tasks:
                yield await task
        finally:
            for task in tasks:
                task.cancel()

    async def wav(self, text: str, *, rate: int, sample_rate: int) -> bytes:
        pcm = b"".join([c async for c in self.stream(text, rate=rate, sample_rate=sample_rate)])
        return audio.wav_bytes(pcm, sample_rate)
