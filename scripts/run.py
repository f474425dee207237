"""Start the whole stack in the foreground with honcho (`make run`).

Builds the environment once (scripts/stack.py, with .env applied), checks that
the ports are free, then hands the Procfile to honcho. Ctrl-C stops every
process: honcho forwards the signal to all of them, and we wait until it has.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import httpx
from honcho.environ import parse as parse_env_file

from scripts import stack

ROOT = stack.ROOT


def load_environment(
    base: Mapping[str, str] | None = None,
    *,
    profile: Callable[[Mapping[str, str]], dict[str, str]] = stack.environment,
) -> dict[str, str]:
    """The shell's variables over .env, over the profile's defaults (scripts/stack.py)."""
    base = dict(os.environ if base is None else base)
    env_file = ROOT / ".env"
    if env_file.exists():
        # The shell's own variables win over .env, as with honcho and docker compose.
        base = {**parse_env_file(env_file.read_text(encoding="utf-8")), **base}
    env = {**base, **profile(base)}
    # The Procfile says `python` and `rasa`: make them this virtual environment's.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), base.get("PATH", "")])
    return env


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


def supervise(command: list[str], env: Mapping[str, str]) -> int:
    """Run honcho until it has stopped every process, whatever signal we get.

    Ctrl-C reaches honcho too; it then stops each process (SIGTERM, SIGKILL after 5 s)
    and exits. We must wait for that: returning at once (or killing honcho, as
    ``subprocess.call`` does on KeyboardInterrupt) would leave processes running
    without their supervisor. A signal sent to this process alone is passed on.
    """
    process = subprocess.Popen(command, cwd=ROOT, env=dict(env))  # noqa: S603 - fixed argv

    def pass_on(signum: int, _frame: object) -> None:
        process.send_signal(signum)  # honcho ignores a repeat: it is stopping already

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, pass_on)
    return process.wait()


def busy_ports(env: dict[str, str]) -> list[str]:
    return [f"{name}={env[name]}" for name in stack.DEFAULT_PORTS if port_open(int(env[name]))]


def announce_when_ready(url: str) -> None:
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                print(f"\n  助手已就绪 / ready:  {url}/   (agent view: {url}/agent)\n", flush=True)
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)


def main() -> None:
    env = load_environment()
    if taken := busy_ports(env):
        sys.exit(
            f"[run] these ports are already in use: {', '.join(taken)}. "
            "Stop the other program or set another port in .env."
        )
    if not Path(env["RASA_MODEL"]).exists():
        sys.exit("[run] no trained model yet: run `make train` first (`make run` does it for you).")
    url = env["GATEWAY_URL"]
    print(f"[run] starting exchange, actions, Rasa, gateway and phone line; web widget at {url}/")
    threading.Thread(target=announce_when_ready, args=(url,), daemon=True).start()
    honcho = Path(sys.executable).with_name("honcho")
    command = [str(honcho), "start", "--procfile", str(ROOT / "Procfile"), "--env", os.devnull]
    sys.exit(supervise(command, env))


if __name__ == "__main__":
    main()
