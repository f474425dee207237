"""Where a turn's CPU goes across the processes of a stack under load.

pyinstrument (bench/text.py) shows what one Rasa process does with its time; this
shows how the machine's CPU is shared between all of them: Rasa replicas, proxies,
action servers, the exchange, PostgreSQL, Redis and the load generator itself. Each
process's user + system CPU time is read with psutil before and after one load
level, and the difference is shown per kind of process, per turn.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import psutil

from bench.common import describe, table

# Database and cache servers are not children of the stack; found by program name.
SERVERS = {"postgres": "PostgreSQL", "redis-server": "Redis"}
LOAD_GENERATOR = "load generator (this benchmark)"

Key = tuple[str, int]  # (kind of process, pid)


@dataclass
class CpuResult:
    users: int
    seconds: float  # wall clock of the measured level
    turns: int  # good turns in it
    by_kind: list[tuple[str, int, float]] = field(default_factory=list)  # kind, processes, CPU s

    @property
    def total(self) -> float:
        return sum(cpu for _, _, cpu in self.by_kind)


def kind(process: psutil.Process) -> str:
    """What a process is, for the table: proxies by what they front."""
    name = describe(process)
    if name == "rasa_addons.serve":  # the Procfiles' `rasa run`
        return "rasa"
    if name == "scripts.proxy":
        with contextlib.suppress(psutil.Error, ValueError, IndexError):
            command = process.cmdline()
            return f"proxy in front of {command[command.index('--name') + 1]}"
    return name


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def snapshot(roots: Mapping[str, int]) -> dict[Key, float]:
    """CPU seconds so far of every process of the stack, the servers and this one."""
    seen: dict[Key, float] = {}
    for pid in roots.values():
        try:
            root = psutil.Process(pid)
            tree = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for process in tree:
            try:
                seen[(kind(process), process.pid)] = _cpu(process)
            except psutil.Error:
                continue
    for process in psutil.process_iter(["name"]):
        label = SERVERS.get(process.info["name"] or "")
        if label:
            try:
                seen[(label, process.pid)] = _cpu(process)
            except psutil.Error:
                continue
    seen[(LOAD_GENERATOR, os.getpid())] = _cpu(psutil.Process())
    return seen


def difference(
    before: Mapping[Key, float], after: Mapping[Key, float]
) -> list[tuple[str, int, float]]:
    """CPU seconds per kind of process between two snapshots, most first.

    A process that started in between counts from zero; one that ended is missing
    from ``after`` and counts nothing (its last seconds are lost, a rare case).
    """
    cpu: dict[str, float] = defaultdict(float)
    count: dict[str, int] = defaultdict(int)
    for key, seconds in after.items():
        cpu[key[0]] += seconds - before.get(key, 0.0)
        count[key[0]] += 1
    rows = [(name, count[name], seconds) for name, seconds in cpu.items() if seconds >= 0.05]
    return sorted(rows, key=lambda row: -row[2])


def measure(roots: Mapping[str, int], run_level: Callable[[], int], *, users: int) -> CpuResult:
    """Run one load level (``run_level`` returns its good turns) and share out its CPU."""
    before = snapshot(roots)
    started = time.monotonic()
    turns = run_level()
    wall = time.monotonic() - started
    return CpuResult(users, wall, turns, difference(before, snapshot(roots)))


def section(result: CpuResult) -> list[str]:
    turns = result.turns or 1
    cores = psutil.cpu_count() or 1
    rows = [
        [name, processes, f"{seconds:.1f} s", f"{seconds / result.seconds:.0%}",
         f"{seconds / turns * 1000:.1f} ms"]
        for name, processes, seconds in result.by_kind
    ]  # fmt: skip
    return [
        f"CPU time of every process during one more run of {result.users} users for "
        f"{result.seconds:.0f} s ({result.turns} good turns, "
        f"{result.turns / result.seconds:.1f} turns/s), read with psutil before and after. "
        f"All of them together used {result.total:.1f} s of CPU, "
        f"{result.total / result.seconds:.2f} of the machine's {cores} cores, "
        f"{result.total / turns * 1000:.0f} ms per turn: when that nears the number of "
        "cores, the machine, not any one process, is the limit.",
        "",
        *table(["process", "processes", "CPU", "of one core", "CPU per turn"], rows),
        "",
    ]
