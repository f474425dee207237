"""Start real service processes for tests on free ports, and always stop them.

Every end-to-end fixture uses ``Service``: it launches a command in its own
process group, waits until a health URL (or TCP port) answers, keeps the output
in a log file for post-mortems, and kills the whole group on exit.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
LOG_DIR = ROOT / "var" / "test-logs"


# Ports for test services come from below the kernel's ephemeral range: a port
# from there (what bind(0) hands out) can be taken by any outgoing connection in
# the seconds before a slow service (Rasa loading its model) binds it.
PORT_RANGE = (20_000, 32_000)
_chosen: set[int] = set()


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32_768, 60_999


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_run(count: int = 1) -> int:
    """The first of ``count`` consecutive free ports, none handed out before by this process."""
    low, high = PORT_RANGE
    ephemeral = _ephemeral_range()
    rng = random.SystemRandom()
    for _ in range(1000):
        first = rng.randrange(low, high - count)
        ports = range(first, first + count)
        if any(port in _chosen or ephemeral[0] <= port <= ephemeral[1] for port in ports):
            continue
        if all(_bindable(port) for port in ports):
            _chosen.update(ports)
            return first
    raise RuntimeError(f"no run of {count} free ports found in {low}-{high}")


def free_port() -> int:
    return free_port_run(1)


def processes_with(variable: str, value: str) -> list[str]:
    """Command lines of live processes whose environment has ``variable=value``.

    Tests give each stack a unique value (a temporary VAR_DIR, a key prefix), so
    this finds every process it started, however deep, and nothing else.
    """
    wanted = f"{variable}={value}".encode()
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if wanted in (proc / "environ").read_bytes().split(b"\0"):
                found.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


@dataclass
class Service:
    name: str
    args: list[str]
    port: int
    env: dict[str, str] = field(default_factory=dict)
    health_path: str | None = "/health"
    startup_timeout: float = 120.0
    cwd: Path = ROOT
    process: subprocess.Popen | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Service:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.log_path = LOG_DIR / f"{self.name}-{self.port}.log"
        log = self.log_path.open("ab")  # a restarted service keeps its first log
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        self.process = subprocess.Popen(
            self.args,
            cwd=self.cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.wait_ready()
        return self

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process and self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.tail()}")
            if self._ready():
                return
            time.sleep(0.25)
        self.stop()
        raise TimeoutError(f"{self.name} did not become ready:\n{self.tail()}")

    def _ready(self) -> bool:
        if self.health_path is None:
            return port_open(self.port)
        try:
            return httpx.get(self.url + self.health_path, timeout=2).status_code < 500
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if not self.process or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)

    def tail(self, lines: int = 60) -> str:
        if not self.log_path or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def __enter__(self) -> Service:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
