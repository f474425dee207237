"""Memory of the default stack: `python -m bench.memory` (reports/bench/memory.md).

Starts every process `make run` starts (exchange, action server, Rasa, and the
gateway with a Vosk model loaded, answering the phone line too) on free ports,
warms them up (every kind of scripted conversation through Rasa, a few messages
and one spoken reply through the gateway), then reads each process tree's memory with psutil:

* RSS: resident memory of the process and all its children (TTS workers, ...);
  pages shared between processes count once per process, so the sum is an upper
  bound. The target is on this sum.
* PSS: the same with shared pages split between the processes sharing them; the
  sum of PSS is what the stack really takes.

``python -m bench.run`` also reads it again after the text load.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from bench import common, text
from bench.common import Headline, Report, mib, table
from bench.stack import Stack, default_stack

REPORT = common.REPORTS / "memory.md"
TARGET_BYTES = 2.5e9  # 2.5 GB for the whole stack


@dataclass
class TreeMemory:
    name: str
    pid: int
    processes: int
    rss: int
    pss: int | None  # None when the kernel does not say (no /proc/PID/smaps_rollup access)
    members: list[tuple[str, int]] = field(default_factory=list)  # (what, RSS) per process


def tree_memory(name: str, pid: int) -> TreeMemory:
    """RSS and PSS of a process and all its descendants (gone ones are skipped)."""
    root = psutil.Process(pid)
    rss, pss = 0, 0
    have_pss = True
    members = []
    for process in [root, *root.children(recursive=True)]:
        try:
            if have_pss:
                try:
                    full = process.memory_full_info()
                    one, pss = full.rss, pss + full.pss
                except psutil.AccessDenied:
                    have_pss = False
                    one = process.memory_info().rss
            else:
                one = process.memory_info().rss
            members.append((common.describe(process), one))
            rss += one
        except psutil.NoSuchProcess:
            continue
    return TreeMemory(name, pid, len(members), rss, pss if have_pss else None, members)


def snapshot(processes: dict[str, int]) -> list[TreeMemory]:
    return [tree_memory(name, pid) for name, pid in processes.items()]


def total(trees: Sequence[TreeMemory], attr: str = "rss") -> int | None:
    values = [getattr(t, attr) for t in trees]
    return None if any(v is None for v in values) else sum(values)


async def warm_up_gateway(gateway_url: str) -> str:
    """A few widget messages and one spoken reply through the gateway; what happened."""
    done = []
    async with httpx.AsyncClient(timeout=120) as client:
        sender = f"bench-mem-{int(time.time())}"
        for message in ("你好", "成都的办事大厅在哪里", "都可以"):
            response = await client.post(
                f"{gateway_url}/v1/chat", json={"sender": sender, "text": message}
            )
            done.append(f"chat {response.status_code}")
        response = await client.post(
            f"{gateway_url}/v1/tts", json={"text": "您好，请问您要办什么事？"}
        )
        done.append(f"tts {response.status_code}")
        health = (await client.get(f"{gateway_url}/health")).json()
        done.append(f"ASR {health.get('asr')}")
    return ", ".join(done)


def warm_up(stack: Stack) -> str:
    """Text conversations through Rasa, then the gateway; a short note for the report."""
    warm = asyncio.run(text.warm_up(stack.rasa_url))
    note = f"{len(warm.turns)} text turns through Rasa ({warm.error_count} errors)"
    if "GATEWAY_URL" in stack.env and "gateway" in stack.processes:
        try:
            note += "; gateway: " + asyncio.run(warm_up_gateway(stack.env["GATEWAY_URL"]))
        except (httpx.HTTPError, ValueError) as error:
            note += f"; gateway warm-up failed ({type(error).__name__}: {error})"
    return note


@dataclass
class MemoryRun:
    description: str
    voice_model: str
    warm_up: str
    snapshots: list[tuple[str, list[TreeMemory]]]  # (when, trees)


def headlines(run: MemoryRun) -> list[Headline]:
    out = []
    for when, trees in run.snapshots:
        rss = total(trees) or 0
        out.append(
            Headline(
                f"memory of the default stack {when} (sum of RSS)",
                f"{rss / 1e9:.2f} GB ({mib(rss)})",
                f"≤ {TARGET_BYTES / 1e9:.1f} GB",
                rss <= TARGET_BYTES,
            )
        )
    return out


def render(run: MemoryRun, *, command: str) -> list[str]:
    lines = common.header("Memory of the default stack", command)
    lines += [
        f"Stack: {run.description}, on free ports with the demo data.",
        "Voice model, loaded once by the gateway for kiosks, widget and phone line: "
        f"{run.voice_model}.",
        f"Warm-up before the first reading: {run.warm_up}.",
        "",
        "Each row is a process with all its children. RSS counts pages shared between "
        "processes once per process (an upper bound; the target is on its sum); PSS splits "
        "shared pages between the processes that share them (what the stack really takes). "
        "Rasa is started through bench/profiled_rasa.py, which imports pyinstrument (about "
        "3 MiB) for the text benchmark's profile.",
        "",
    ]
    names = [t.name for t in run.snapshots[0][1]] if run.snapshots else []
    headers = ["process"]
    for when, _ in run.snapshots:
        headers += [f"RSS {when}", f"PSS {when}"]
    rows: list[list[object]] = []
    for name in names:
        row: list[object] = [name]
        for _, trees in run.snapshots:
            tree = next(t for t in trees if t.name == name)
            count = f" ({tree.processes} processes)" if tree.processes > 1 else ""
            row += [mib(tree.rss) + count, mib(tree.pss) if tree.pss is not None else "-"]
        rows.append(row)
    sums: list[object] = ["**all**"]
    for _, trees in run.snapshots:
        pss = total(trees, "pss")
        sums += [f"**{mib(total(trees) or 0)}**", mib(pss) if pss is not None else "-"]
    rows.append(sums)
    lines += [*table(headers, rows), ""]
    last_when, last = run.snapshots[-1] if run.snapshots else ("", [])
    parts = [
        f"{tree.name}: " + ", ".join(f"{what} {mib(size)}" for what, size in tree.members)
        for tree in last
        if tree.processes > 1
    ]
    if parts:
        lines += [f"Processes with children, RSS of each ({last_when}):", ""]
        lines += [*(f"- {part}" for part in parts), ""]
    lines += ["## Against the target", ""]
    lines += table(
        ["measure", "value", "target", "verdict"],
        [[h.measure, h.value, h.target, h.verdict] for h in headlines(run)],
    )
    return lines


def write(run: MemoryRun, *, started: float) -> Report:
    lines = render(run, command=common.command_line("python -m bench.memory"))
    lines += ["", f"Benchmark took {time.monotonic() - started:.0f} s."]
    common.write(REPORT, lines)
    return Report("Memory", REPORT, headlines(run), time.monotonic() - started)


def main() -> None:
    common.load_at_start()  # before any work loads the machine
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--load",
        type=float,
        default=0.0,
        help="seconds of 10-user text load before a second reading (0: none)",
    )
    args = parser.parse_args()
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="bench-") as tmp,
        default_stack(Path(tmp), voice=True) as stack,
    ):
        note = warm_up(stack)
        run = MemoryRun(
            stack.description,
            stack.env.get("BENCH_VOICE_MODEL", "none"),
            note,
            [("after warm-up", snapshot(stack.processes))],
        )
        if args.load > 0:
            text.measure(stack.rasa_url, [10], args.load)
            run.snapshots.append(("after the text load", snapshot(stack.processes)))
    write(run, started=started)


if __name__ == "__main__":
    main()
