"""Start the whole stack in the foreground with honcho (`make run`).

Builds the environment once (scripts/stack.py, with .env applied), checks that
the ports are free, then hands the Procfile to honcho. Ctrl-C stops every
process: honcho forwards the signal to all of them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from honcho.environ import parse as parse_env_file

from scripts import stack
from tests.support.processes import port_open

ROOT = stack.ROOT


def load_environment() -> dict[str, str]:
    env_file = ROOT / ".env"
    base = dict(os.environ)
    if env_file.exists():
        # The shell's own variables win over .env, as with honcho and docker compose.
        base = {**parse_env_file(env_file.read_text(encoding="utf-8")), **base}
    env = {**base, **stack.environment(base)}
    # The Procfile says `python` and `rasa`: make them this virtual environment's.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), base.get("PATH", "")])
    return env


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
    try:
        sys.exit(subprocess.call(command, cwd=ROOT, env=env))  # noqa: S603 - fixed argv
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
