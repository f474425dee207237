"""What every benchmark report shares: the machine, the commit, percentiles, tables.

Reports are Markdown under reports/bench/. Each starts with the command that made
it, the date, the git commit and the machine, so a number can always be traced to
where and how it was measured. Nothing here asserts anything: targets are printed
next to the numbers with "met" / "not met".
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import os
import platform
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "reports" / "bench"


@dataclass
class Headline:
    """One line of the index: what was measured, the value, the target and the verdict."""

    measure: str
    value: str
    target: str = ""
    met: bool | None = None  # None: no target, or not measured

    @property
    def verdict(self) -> str:
        """Met or not; a value without a target needs no verdict."""
        if self.met is None:
            return "not measured" if self.target else ""
        return "met" if self.met else "**not met**"


@dataclass
class Report:
    """A written benchmark report and the lines the index shows for it."""

    title: str
    path: Path
    headlines: list[Headline] = field(default_factory=list)
    seconds: float = 0.0


# ---------------------------------------------------------------- numbers


def percentile(values: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) with linear interpolation between ranks, as numpy's default.

    NaN for no values: an empty level must not look like a fast one.
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile {q} is not between 0 and 1")
    ordered = sorted(values)
    if not ordered:
        return math.nan
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def ms(seconds: float) -> str:
    if math.isnan(seconds):
        return "-"
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def mib(size: float) -> str:
    return f"{size / 2**20:.0f} MiB"


def pct(x: float) -> str:
    return "-" if math.isnan(x) else f"{100 * x:.1f}%"


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    """A Markdown table; '|' inside a cell is escaped so it cannot split the row."""

    def cell(value: object) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = [
        "| " + " | ".join(cell(h) for h in headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
    ]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return lines


# ---------------------------------------------------------------- where and how


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text(encoding="utf-8").splitlines():
            if line.startswith("PRETTY_NAME="):
                return f"{line.split('=', 1)[1].strip(chr(34))}, kernel {platform.release()}"
    except OSError:
        pass
    return platform.platform()


def machine() -> str:
    memory = psutil.virtual_memory().total / 2**30
    physical = psutil.cpu_count(logical=False)
    cores = f"{os.cpu_count()} cores" + (
        f" ({physical} physical)" if physical and physical != os.cpu_count() else ""
    )
    return (
        f"{cpu_model()}, {cores}, {memory:.0f} GiB RAM; {os_name()}; "
        f"Python {platform.python_version()}; load average {load_at_start():.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} when written"
    )


@functools.cache
def load_at_start() -> float:
    """The 1-minute load average when the benchmark began: each main() calls this first."""
    return os.getloadavg()[0]


def git_commit() -> str:
    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)

    head = git("rev-parse", "--short", "HEAD")
    if head.returncode != 0:
        return "unknown (not a git checkout)"
    dirty = git("status", "--porcelain", "--untracked-files=no").stdout.strip()
    return head.stdout.strip() + (" with uncommitted changes" if dirty else "")


def command_line(default: str) -> str:
    """The make target (when there is one) and the exact command of this run."""
    args = " ".join(sys.argv[1:])
    module = Path(sys.argv[0]).stem if sys.argv and sys.argv[0] else ""
    run = f"python -m bench.{module} {args}".rstrip() if module else default
    return f"`{run}`"


def header(title: str, command: str, *, started: dt.datetime | None = None) -> list[str]:
    started = started or dt.datetime.now().astimezone()
    return [
        f"# {title}",
        "",
        f"- Command: {command}",
        f"- Date: {started:%Y-%m-%d %H:%M %Z}",
        f"- Commit: {git_commit()}",
        f"- Machine: {machine()}",
        "",
    ]


def write(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    print(f"[bench] wrote {shown}", flush=True)
    return path


def say(message: str) -> None:
    print(f"[bench] {message}", flush=True)


# ---------------------------------------------------------------- processes


def describe(process: psutil.Process) -> str:
    """A short name for a process: the module of `python -m X`, else the program."""
    try:
        command = process.cmdline()
    except (psutil.AccessDenied, psutil.ZombieProcess):
        return process.name()
    if "-m" in command[:-1]:
        return command[command.index("-m") + 1]
    if "-c" in command[:-1] and "multiprocessing" in " ".join(command):
        return "multiprocessing worker"
    if len(command) > 1 and Path(command[0]).name.startswith("python"):
        if not command[1].startswith("-"):  # a script such as .venv/bin/rasa
            return Path(command[1]).name
    return Path(command[0]).name if command else process.name()
