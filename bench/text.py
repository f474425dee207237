"""Text turn latency over Rasa's REST channel: `python -m bench.text` (reports/bench/text.md).

A turn is one POST to /webhooks/rest/webhook until its reply, so it includes the
NLU pipeline, the policies, the tracker store and the custom actions with their
calls to the exchange. Closed-loop simulated users (no think time: each sends its
next message as soon as the last reply arrives) run scripted conversations for
``--duration`` seconds at each concurrency level (default 1, 10 and 50 users):

* find a service hall in a city (2 turns, an exchange read of the halls),
* query pension payments (4 turns: name, ID number and phone digits are checked
  against the exchange, then the payments are read from it),
* noise that falls back twice (the second time a person is offered).

Every conversation has a fresh sender id, so forms start from the beginning.
A turn is an error when it gets no 200 answer, times out, or gets an empty reply
or the channel's apology (rasa_addons/channels.py: something behind Rasa failed).
A conversation whose last reply lacks what the script expects is counted apart
("not as scripted"): a wrong answer, not a failure.

The stack is started here on free ports (`make run`'s processes, with the demo
data) unless ``--rasa-url`` names a running Rasa. ``--profile prod`` measures the
production profile (`make run-prod`) the same way. Extra runs say where the time
goes (``--no-where``: skip them): one reads the CPU time of every process of the
stack around it (bench/cpu.py), one (default profile) samples the Rasa server
with pyinstrument.
Numbers depend on the machine and its load: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import signal
import tempfile
import time
import traceback
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
import psutil

from bench import common, hotspots, stock
from bench import cpu as cpu_share
from bench.common import Headline, Report, ms, percentile, table
from bench.stack import Stack, default_stack, prod_stack, prod_unavailable
from bench.stack import running_stack as running
from exchange.seed import demo_identities

REPORT = common.REPORTS / "text.md"
RESULTS_JSON = common.REPORTS / "text.json"
WEBHOOK = "/webhooks/rest/webhook"
APOLOGY_MARK = "系统出了点问题"  # rasa_addons/channels.py APOLOGY
LEVELS = (1, 10, 50)
QUICK_LEVELS = (1, 10)
# Targets of issue #9.
TARGET_P95_AT_10 = 0.300
TARGET_ERRORS_AT_50 = 0
TARGET_PROD_TURNS_PER_S = 100.0
# Process kinds (bench/cpu.py) that are Rasa servers: profiled in the default profile,
# `rasa run` in the others.
RASA_KINDS = ("bench.profiled_rasa", "rasa")
CONTEXT = (
    "For comparison, issue #9 says: a stock single-process Rasa 3.6 with a minimal Chinese "
    "bot and trivial actions does about 56 turns/s on this 2-core machine, with p95 ≈ 280 ms "
    "at 10 users and ≈ 1.4 s at 50. With `--profile stock` or `both` such a reference "
    "(bench/stock.py) is measured in the same run: see its section."
)

# ---------------------------------------------------------------- conversations

# Demo citizens: name -> (ID number, phone last 4). Only the retired ones: the pension
# script expects payments, and the under-60 demo citizen has none.
CITIZENS = demo_identities(pension_status="retired")
# Cities with service halls in the demo data.
HALL_CITIES = ("北京", "成都", "青岛", "武汉", "广州", "南京", "上海", "杭州", "重庆")


@dataclass(frozen=True)
class Turn:
    step: str  # what the turn does, for the per-step table
    text: str
    expect: str | None = None  # a word the reply must hold (checked on the last turn)


@dataclass(frozen=True)
class Script:
    kind: str
    turns: tuple[Turn, ...]


def hall(rng: random.Random) -> Script:
    city = rng.choice(HALL_CITIES)
    ask = rng.choice(("{}的办事大厅在哪里", "{}的办事大厅在哪"))
    return Script(
        "find_service_hall",
        (
            Turn("hall: asks for a hall in a city", ask.format(city)),
            Turn("hall: any service → address (exchange read)", "都可以", expect="地址"),
        ),
    )


def pension(rng: random.Random) -> Script:
    name = rng.choice(list(CITIZENS))
    number, last4 = CITIZENS[name]
    return Script(
        "query_pension_payment",
        (
            Turn("pension: asks", rng.choice(("查一下我的养老金发了多少", "查一下养老金"))),
            Turn("pension: name", f"我叫{name}"),
            Turn("pension: ID number", number),
            Turn("pension: phone digits → verify + payments (exchange)", last4, expect="元"),
        ),
    )


def fallback(rng: random.Random) -> Script:
    noise = rng.choice((("？？？", "。。。"), ("。。。", "？？？")))
    return Script(
        "fallback",
        (
            Turn("fallback: noise", noise[0]),
            Turn("fallback: noise again → offers a person", noise[1], expect="人工"),
        ),
    )


# Mix of conversations: (weight, maker).
MIX = ((4, hall), (4, pension), (2, fallback))


Mix = Sequence[tuple[int, Callable[[random.Random], Script]]]


def conversations(seed: int, mix: Mix = MIX) -> Iterator[Script]:
    """An endless, reproducible stream of scripted conversations."""
    rng = random.Random(seed)
    weights = [w for w, _ in mix]
    makers = [m for _, m in mix]
    while True:
        yield rng.choices(makers, weights)[0](rng)


# ---------------------------------------------------------------- results


@dataclass
class TurnResult:
    step: str
    seconds: float
    error: str | None = None  # None: a good reply


@dataclass
class LevelResult:
    users: int
    seconds: float  # wall clock from the first to the last turn
    turns: list[TurnResult] = field(default_factory=list)
    conversations: int = 0  # finished conversations
    not_as_scripted: int = 0
    error_samples: list[str] = field(default_factory=list)

    @property
    def latencies(self) -> list[float]:
        return [t.seconds for t in self.turns if t.error is None]

    @property
    def errors(self) -> Counter[str]:
        return Counter(t.error for t in self.turns if t.error is not None)

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def turns_per_s(self) -> float:
        good = len(self.latencies)
        return good / self.seconds if self.seconds > 0 else math.nan

    def p(self, q: float) -> float:
        return percentile(self.latencies, q)

    def by_step(self) -> dict[str, list[float]]:
        steps: dict[str, list[float]] = defaultdict(list)
        for t in self.turns:
            if t.error is None:
                steps[t.step].append(t.seconds)
        return steps

    def summary(self) -> dict[str, object]:
        return {
            "users": self.users,
            "seconds": round(self.seconds, 2),
            "turns": len(self.turns),
            "good_turns": len(self.latencies),
            "turns_per_s": round(self.turns_per_s, 2),
            "p50_ms": round(self.p(0.50) * 1000, 1),
            "p95_ms": round(self.p(0.95) * 1000, 1),
            "p99_ms": round(self.p(0.99) * 1000, 1),
            "errors": dict(self.errors),
            "conversations": self.conversations,
            "not_as_scripted": self.not_as_scripted,
        }


def classify(status: int | None, messages: object) -> str | None:
    """None for a good reply, else the kind of error."""
    if status != 200:
        return f"HTTP {status}"
    if not isinstance(messages, list) or not messages:
        return "empty reply"
    text = "".join(m.get("text") or "" for m in messages if isinstance(m, dict))
    if APOLOGY_MARK in text:
        return "apology (something behind Rasa failed)"
    if not text and not any(isinstance(m, dict) and m.get("buttons") for m in messages):
        return "empty reply"
    return None


# ---------------------------------------------------------------- load


async def _user(
    client: httpx.AsyncClient,
    url: str,
    index: int,
    deadline: float,
    result: LevelResult,
    run: str,
    mix: Mix,
) -> None:
    stream = conversations(index, mix)  # the same stream for user i at every level
    number = 0
    while time.monotonic() < deadline:
        script = next(stream)
        number += 1
        sender = f"bench-{run}-{index}-{number}"
        reply = ""
        for turn in script.turns:
            if time.monotonic() >= deadline:
                return  # closed loop: no new turn after the deadline
            started = time.perf_counter()
            try:
                response = await client.post(url, json={"sender": sender, "message": turn.text})
                status, body = response.status_code, response.json()
                error = classify(status, body)
            except httpx.TimeoutException:
                body, error = None, "timeout"
            except (httpx.HTTPError, ValueError) as exc:
                body, error = None, f"transport ({type(exc).__name__})"
            elapsed = time.perf_counter() - started
            result.turns.append(TurnResult(turn.step, elapsed, error))
            if error is not None:
                if len(result.error_samples) < 5:
                    result.error_samples.append(f"{turn.step}: {error}")
                break  # abandon this conversation, start a new one
            reply = "".join(m.get("text") or "" for m in body)
        else:
            result.conversations += 1
            expect = script.turns[-1].expect
            if expect and expect not in reply:
                result.not_as_scripted += 1


async def run_level(
    rasa_url: str, users: int, duration: float, *, timeout: float = 30.0, mix: Mix = MIX
) -> LevelResult:
    """``users`` closed-loop users for ``duration`` seconds against ``rasa_url``."""
    url = rasa_url.rstrip("/") + WEBHOOK
    limits = httpx.Limits(max_connections=users + 5, max_keepalive_connections=users + 5)
    result = LevelResult(users=users, seconds=0.0)
    run = uuid.uuid4().hex[:8]
    async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:
        started = time.monotonic()
        deadline = started + duration
        await asyncio.gather(
            *(_user(client, url, i, deadline, result, run, mix) for i in range(users))
        )
        result.seconds = time.monotonic() - started
    return result


async def warm_up(rasa_url: str, mix: Mix = MIX) -> LevelResult:
    """Every kind of conversation once, then a few at once: models, caches and pools warm."""
    url = rasa_url.rstrip("/") + WEBHOOK
    result = LevelResult(users=0, seconds=0.0)
    rng = random.Random(7)
    async with httpx.AsyncClient(timeout=120) as client:
        for _, maker in mix:
            sender = f"bench-warm-{uuid.uuid4().hex[:8]}"
            for turn in maker(rng).turns:
                started = time.perf_counter()
                response = await client.post(url, json={"sender": sender, "message": turn.text})
                result.turns.append(
                    TurnResult(
                        turn.step,
                        time.perf_counter() - started,
                        classify(response.status_code, response.json()),
                    )
                )
    result.turns += (await run_level(rasa_url, 4, 3.0, timeout=120, mix=mix)).turns
    return result


def measure(
    rasa_url: str,
    levels: Sequence[int],
    duration: float,
    *,
    timeout: float = 30.0,
    mix: Mix = MIX,
) -> list[LevelResult]:
    """The load at each level against any Rasa base URL (the hook for other profiles)."""
    warm = asyncio.run(warm_up(rasa_url, mix))
    if warm.error_count:
        common.say(f"warm-up had errors: {dict(warm.errors)}")
    results = []
    for users in levels:
        common.say(f"{users} user(s) for {duration:.0f} s against {rasa_url}")
        level = asyncio.run(run_level(rasa_url, users, duration, timeout=timeout, mix=mix))
        common.say(
            f"  {level.turns_per_s:.1f} turns/s, p50 {ms(level.p(0.5))}, p95 {ms(level.p(0.95))}, "
            f"p99 {ms(level.p(0.99))}, errors {level.error_count}"
        )
        results.append(level)
    return results


# ---------------------------------------------------------------- where the time goes


@dataclass
class WhereResult:
    users: int
    level: LevelResult
    hotspots: hotspots.Hotspots


def where_the_time_goes(stack: Stack, *, users: int, duration: float) -> WhereResult:
    """One more level against the stack's Rasa with pyinstrument sampling it.

    The stack's Rasa runs through bench/profiled_rasa.py: SIGUSR1 starts the
    profiler, SIGUSR2 stops it and saves the session to ``stack.profile_path``.
    """
    pid, out = stack.processes.get("rasa"), stack.profile_path
    if pid is None or out is None:
        raise RuntimeError("this stack's Rasa was not started for profiling")
    out.unlink(missing_ok=True)
    os.kill(pid, signal.SIGUSR1)
    common.say(f"profiling Rasa with {users} user(s) for {duration:.0f} s")
    level = asyncio.run(run_level(stack.rasa_url, users, duration))
    os.kill(pid, signal.SIGUSR2)
    deadline = time.monotonic() + 120
    while not out.exists():
        if time.monotonic() > deadline:
            raise RuntimeError("the profiled Rasa wrote no profile within 120 s")
        time.sleep(0.5)
    return WhereResult(users, level, hotspots.load(str(out)))


# ---------------------------------------------------------------- report


TITLES = {
    "default": "Default profile",
    "prod": "Production profile",
    "stock": "Stock Rasa reference",
}


@dataclass
class ProfileRun:
    name: str  # a key of TITLES
    description: str
    levels: list[LevelResult] = field(default_factory=list)
    where: WhereResult | None = None
    cpu: cpu_share.CpuResult | None = None
    skipped: str | None = None  # why it was not measured


def _level(levels: Sequence[LevelResult], users: int) -> LevelResult | None:
    return next((lv for lv in levels if lv.users == users), None)


def headlines(runs: Sequence[ProfileRun]) -> list[Headline]:
    out = []
    for run in runs:
        if run.name == "default":
            at10, at50 = _level(run.levels, 10), _level(run.levels, 50)
            p95 = at10.p(0.95) if at10 else math.nan
            out.append(
                Headline(
                    "text turn p95 at 10 users (default profile)",
                    ms(p95),
                    f"≤ {TARGET_P95_AT_10 * 1000:.0f} ms",
                    None if math.isnan(p95) else p95 <= TARGET_P95_AT_10,
                )
            )
            out.append(
                Headline(
                    "errors at 50 users (default profile)",
                    str(at50.error_count) if at50 else "not run",
                    f"{TARGET_ERRORS_AT_50}",
                    None if at50 is None else at50.error_count <= TARGET_ERRORS_AT_50,
                )
            )
            if run.levels:
                best = max(run.levels, key=lambda lv: lv.turns_per_s)
                out.append(
                    Headline(
                        "text turns/s (default profile, best level)",
                        f"{best.turns_per_s:.1f} ({best.users} users)",
                    )
                )
        elif run.name == "prod":
            if run.levels:
                best = max(run.levels, key=lambda lv: lv.turns_per_s)
                out.append(
                    Headline(
                        "text turns/s (production profile, best level)",
                        f"{best.turns_per_s:.1f} ({best.users} users)",
                        f"≥ {TARGET_PROD_TURNS_PER_S:.0f}",
                        best.turns_per_s >= TARGET_PROD_TURNS_PER_S,
                    )
                )
            else:
                out.append(
                    Headline(
                        "text turns/s (production profile)",
                        f"not measured: {run.skipped}",
                        f"≥ {TARGET_PROD_TURNS_PER_S:.0f}",
                    )
                )
        elif run.name == "stock" and run.levels:
            best = max(run.levels, key=lambda lv: lv.turns_per_s)
            out.append(
                Headline(
                    "text turns/s (stock Rasa reference, same run, best level)",
                    f"{best.turns_per_s:.1f} ({best.users} users)",
                )
            )
    return out


def rasa_cpu_per_turn(run: ProfileRun) -> tuple[float, float] | None:
    """(CPU seconds per turn of its Rasa processes, of all processes) in ``run``'s CPU run."""
    if not run.cpu or not run.cpu.turns:
        return None
    rasa = sum(cpu for kind, _, cpu in run.cpu.by_kind if kind in RASA_KINDS)
    return rasa / run.cpu.turns, run.cpu.total / run.cpu.turns


def ceiling_section(runs: Sequence[ProfileRun]) -> list[str]:
    """What the stock reference says about the production target on this machine."""
    by_name = {run.name: run for run in runs}
    reference = rasa_cpu_per_turn(by_name["stock"]) if "stock" in by_name else None
    if reference is None or not reference[0]:
        return []
    cores = psutil.cpu_count() or 1
    lines = [
        "## What the machine allows",
        "",
        f"The stock reference's Rasa used {reference[0] * 1000:.1f} ms of CPU per turn "
        f"({reference[1] * 1000:.1f} ms for all its processes together), for a bot with 3 "
        "intents, no forms, no slots and in-memory stores. Rasa replicas busy on all "
        f"{cores} cores, with nothing else running, could at that cost do at most "
        f"{cores / reference[0]:.0f} turns/s.",
    ]
    prod = rasa_cpu_per_turn(by_name["prod"]) if "prod" in by_name else None
    if prod:
        lines[-1] += (
            f" The production profile's Rasa replicas used {prod[0] * 1000:.1f} ms per turn "
            f"and all its processes {prod[1] * 1000:.1f} ms: at most "
            f"{cores / prod[1]:.0f} turns/s on {cores} cores. "
            f"≥ {TARGET_PROD_TURNS_PER_S:.0f} turns/s needs at most "
            f"{cores / TARGET_PROD_TURNS_PER_S * 1000:.0f} ms of CPU per turn for the "
            "whole stack (Rasa, action servers, exchange, PostgreSQL, Redis, proxies and "
            "the load generator)."
        )
    return [*lines, ""]


def level_table(levels: Sequence[LevelResult]) -> list[str]:
    rows = []
    for lv in levels:
        errors = ", ".join(f"{n} {kind}" for kind, n in lv.errors.most_common()) or "0"
        rows.append(
            [
                lv.users,
                len(lv.turns),
                f"{lv.turns_per_s:.1f}",
                ms(lv.p(0.50)),
                ms(lv.p(0.95)),
                ms(lv.p(0.99)),
                errors,
                f"{lv.conversations} / {lv.not_as_scripted}",
            ]
        )
    return table(
        [
            "users", "turns", "turns/s", "p50", "p95", "p99", "errors",
            "conversations finished / not as scripted",
        ],
        rows,
    )  # fmt: skip


def step_table(levels: Sequence[LevelResult]) -> list[str]:
    steps: list[str] = []
    for lv in levels:
        steps += [s for s in lv.by_step() if s not in steps]
    rows = []
    for step in steps:
        row: list[object] = [step]
        for lv in levels:
            values = lv.by_step().get(step, [])
            row.append(f"{ms(percentile(values, 0.5))} / {ms(percentile(values, 0.95))}")
        rows.append(row)
    return table(["step", *(f"{lv.users} users p50 / p95" for lv in levels)], rows)


def area_rows(spots: hotspots.Hotspots, *, smallest: float = 0.005) -> list[list[object]]:
    """One row per area holding at least ``smallest`` of the samples, then the rest."""
    total, busy = spots.total or math.nan, spots.busy or math.nan
    rows: list[list[object]] = []
    rest, rest_seconds = 0, 0.0
    for name, seconds in spots.areas:
        if seconds / total < smallest:
            rest, rest_seconds = rest + 1, rest_seconds + seconds
            continue
        share_of_busy = "" if name == hotspots.IDLE else f"{seconds / busy:.1%}"
        rows.append([name, f"{seconds / total:.1%}", share_of_busy])
    if rest:
        rows.append(
            [
                f"{rest} smaller areas, each under {smallest:.1%}",
                f"{rest_seconds / total:.1%}",
                f"{rest_seconds / busy:.1%}",
            ]
        )
    return rows


def where_section(where: WhereResult) -> list[str]:
    spots = where.hotspots
    total = spots.total or math.nan
    busy = spots.busy or math.nan
    lines = [
        f"One more run of {where.users} users for {where.level.seconds:.0f} s against the same "
        "Rasa server, now with pyinstrument (bench/profiled_rasa.py) sampling its main thread "
        "every millisecond. Rasa runs its event loop, the NLU pipeline, the policies and its SQL "
        "tracker store on that one thread, so this is where a turn's server time goes. The "
        "profiler slows the server down "
        f"({where.level.turns_per_s:.1f} turns/s, p95 {ms(where.level.p(0.95))} in this run); "
        "read the shares, not the absolute times.",
        "",
        f"Sampled {spots.total:.1f} s; the thread was busy {spots.busy:.1f} s "
        f"({spots.busy / total:.0%}), the rest it waited for the network.",
        "",
        "In plain words, Rasa's busy time went to: "
        + "; ".join(
            f"{name} {seconds / busy:.0%}"
            for name, seconds in [a for a in spots.areas if a[0] != hotspots.IDLE][:5]
        )
        + ".",
        "",
        "By area (each sample counted once, for the innermost part of Rasa it was in):",
        "",
        *table(["area", "share of all samples", "share of busy time"], area_rows(spots)),
        "",
        f"Top {len(spots.functions)} functions of Rasa and of this project by time spent in "
        "them and what they call (wrappers that hold nearly every busy sample left out):",
        "",
        *table(
            ["function", "share of busy time"],
            [[name, f"{seconds / busy:.1%}"] for name, seconds in spots.functions],
        ),
        "",
        f"Top {len(spots.leaves)} innermost frames (where the CPU actually was):",
        "",
        *table(
            ["frame", "share of all samples"],
            [[name, f"{seconds / total:.1%}"] for name, seconds in spots.leaves],
        ),
        "",
    ]
    return lines


def render(runs: Sequence[ProfileRun], *, duration: float, command: str) -> list[str]:
    lines = common.header("Text turn latency over Rasa's REST channel", command)
    lines += [
        "A turn is one POST to `/webhooks/rest/webhook` until its reply: NLU, policies, "
        "tracker store, custom actions and their exchange calls. Closed-loop simulated users "
        "(no think time) run scripted conversations, each with a fresh sender id: "
        + ", ".join(
            f"{maker(random.Random(0)).kind} ({len(maker(random.Random(0)).turns)} turns, "
            f"weight {weight})"
            for weight, maker in MIX
        )
        + f". Each level runs {duration:.0f} s. turns/s counts good replies; an error is "
        "no 200, a timeout, an empty reply or the channel's apology. The load generator runs "
        "on the same machine and takes some of its CPU.",
        "",
        CONTEXT,
        "",
    ]
    for run in runs:
        title = TITLES[run.name]
        in_title = title[0].lower() + title[1:]  # "stock Rasa reference"
        lines += [f"## {title}", "", f"Stack: {run.description}.", ""]
        if run.name == "stock":
            lines += [
                "Measured the same way, in the same run, for comparison: its conversations "
                "are greeting → office hours (the custom action) → goodbye, each with a "
                "fresh sender id.",
                "",
            ]
        if run.skipped:
            lines += [f"Not measured: {run.skipped}.", ""]
            continue
        lines += [*level_table(run.levels), ""]
        lines += ["Per step, p50 / p95:", "", *step_table(run.levels), ""]
        samples = [s for lv in run.levels for s in lv.error_samples]
        if samples:
            lines += ["First errors seen:", "", *(f"- {s}" for s in samples[:10]), ""]
        if run.cpu:
            lines += [f"### CPU by process ({in_title})", "", *cpu_share.section(run.cpu)]
        if run.where:
            lines += [f"### Where the time goes ({in_title})", "", *where_section(run.where)]
    lines += ceiling_section(runs)
    lines += ["## Against the targets", ""]
    lines += table(
        ["measure", "value", "target", "verdict"],
        [[h.measure, h.value, h.target, h.verdict] for h in headlines(runs)],
    )
    return lines


def write(runs: Sequence[ProfileRun], *, duration: float, started: float) -> Report:
    lines = render(runs, duration=duration, command=common.command_line("python -m bench.text"))
    lines += ["", f"Benchmark took {time.monotonic() - started:.0f} s."]
    common.write(REPORT, lines)
    RESULTS_JSON.write_text(
        json.dumps(
            {
                run.name: {
                    "description": run.description,
                    "skipped": run.skipped,
                    "levels": [lv.summary() for lv in run.levels],
                    "where": asdict(run.where.hotspots) if run.where else None,
                    "cpu": asdict(run.cpu) if run.cpu else None,
                }
                for run in runs
            },
            ensure_ascii=False,
            indent=1,
        ),
        encoding="utf-8",
    )
    return Report("Text turn latency", REPORT, headlines(runs), time.monotonic() - started)


# ---------------------------------------------------------------- command line


@contextmanager
def _work_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        yield Path(tmp)


def run_default(
    stack: Stack,
    *,
    levels: Sequence[int],
    duration: float,
    where_users: int | None,
    where_duration: float,
) -> ProfileRun:
    run = ProfileRun("default", stack.description)
    run.levels = measure(stack.rasa_url, levels, duration)
    if where_users:
        run.cpu = cpu_by_process(stack, users=where_users, duration=where_duration)
    if where_users and stack.profile_path:
        run.where = where_the_time_goes(stack, users=where_users, duration=where_duration)
    return run


def run_prod(
    work: Path, *, levels: Sequence[int], duration: float, where_users: int | None
) -> ProfileRun:
    why = prod_unavailable()
    if why:
        return ProfileRun("prod", "production profile (`make run-prod`)", skipped=why)
    common.say("starting the production profile (2 Rasa replicas load their models)")
    with prod_stack(work) as stack:
        run = ProfileRun("prod", stack.description)
        run.levels = measure(stack.rasa_url, levels, duration)
        if where_users:
            run.cpu = cpu_by_process(stack, users=where_users, duration=duration)
    return run


def run_stock(
    work: Path, *, levels: Sequence[int], duration: float, where_users: int | None
) -> ProfileRun:
    with stock.stock_stack(work) as stack:
        run = ProfileRun("stock", stack.description)
        run.levels = measure(stack.rasa_url, levels, duration, mix=stock.MIX)
        if where_users:
            run.cpu = cpu_by_process(stack, users=where_users, duration=duration, mix=stock.MIX)
    return run


# Stacks each started here for its measurement, in this order after the default one.
STARTED_HERE = {"prod": run_prod, "stock": run_stock}
# --profile: the stacks it measures.
PROFILES = {
    "default": ("default",),
    "prod": ("prod",),
    "stock": ("stock",),
    "both": ("default", "prod", "stock"),
}


def run_started(
    name: str, work: Path, *, levels: Sequence[int], duration: float, where_users: int | None
) -> ProfileRun:
    """``run_prod`` or ``run_stock``; a failure is reported as a skipped run that says
    why, so the numbers of the other stacks still count."""
    try:
        return STARTED_HERE[name](
            work / name, levels=levels, duration=duration, where_users=where_users
        )
    except Exception as error:  # noqa: BLE001 - any failure of one stack is reported
        traceback.print_exc()
        why = f"it failed ({type(error).__name__}: {str(error)[:300]}); see var/test-logs/"
        return ProfileRun(name, TITLES[name].lower(), skipped=why)


def cpu_by_process(
    stack: Stack, *, users: int, duration: float, mix: Mix = MIX
) -> cpu_share.CpuResult:
    common.say(f"{users} user(s) for {duration:.0f} s, CPU time of each process read around it")
    return cpu_share.measure(
        stack.processes,
        lambda: len(asyncio.run(run_level(stack.rasa_url, users, duration, mix=mix)).latencies),
        users=users,
    )


def main() -> None:
    common.load_at_start()  # before any work loads the machine
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per level")
    parser.add_argument(
        "--levels", default=",".join(map(str, LEVELS)), help="concurrent users, e.g. 1,10,50"
    )
    parser.add_argument(
        "--profile",
        choices=list(PROFILES),
        default="default",
        help="which stack to measure (prod: `make run-prod`'s, needs PostgreSQL and Redis; "
        "stock: the stock Rasa reference of bench/stock.py; both: all three)",
    )
    parser.add_argument("--rasa-url", help="measure this running Rasa instead of starting one")
    parser.add_argument("--token", default="", help="its --auth-token (not needed for the load)")
    parser.add_argument(
        "--no-where", action="store_true", help="skip the pyinstrument run (where the time goes)"
    )
    parser.add_argument("--where-users", type=int, default=10)
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",") if x.strip()]
    started = time.monotonic()
    runs = []
    with _work_dir() as work:
        if args.rasa_url:
            with running(args.rasa_url, args.token) as stack:
                runs.append(ProfileRun("default", stack.description))
                runs[-1].levels = measure(stack.rasa_url, levels, args.duration)
        elif "default" in PROFILES[args.profile]:
            with default_stack(work / "default") as stack:
                runs.append(
                    run_default(
                        stack, levels=levels, duration=args.duration,
                        where_users=None if args.no_where else args.where_users,
                        where_duration=args.duration,
                    )
                )  # fmt: skip
        for name in STARTED_HERE:
            if name in PROFILES[args.profile] and not args.rasa_url:
                runs.append(
                    run_started(
                        name, work, levels=levels, duration=args.duration,
                        where_users=None if args.no_where else args.where_users,
                    )
                )  # fmt: skip
    write(runs, duration=args.duration, started=started)


if __name__ == "__main__":
    main()
