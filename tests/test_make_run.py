"""`make run`'s launcher starts every process of the stack and Ctrl-C stops them all."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import httpx
import pytest

from scripts import stack
from tests.support.processes import PYTHON, ROOT, free_port, port_open, processes_with

pytestmark = pytest.mark.slow


def test_run_starts_the_whole_stack_and_ctrl_c_stops_it(tmp_path, trained_model):
    ports = {name: free_port() for name in stack.DEFAULT_PORTS}
    env = {**os.environ, **{name: str(port) for name, port in ports.items()},
           "VAR_DIR": str(tmp_path), "RASA_MODEL": str(trained_model)}  # fmt: skip
    env = {k: v for k, v in env.items() if not k.endswith("_URL")}
    seed = subprocess.run(
        [PYTHON, "-m", "exchange", "seed", "data/demo/citizens.yml", "--if-empty"],
        cwd=ROOT, env={**env, **stack.environment(env)}, capture_output=True, text=True,
    )  # fmt: skip
    assert seed.returncode == 0, seed.stderr

    log = (tmp_path / "run.log").open("w+")
    process = subprocess.Popen(
        [PYTHON, "-m", "scripts.run"], cwd=ROOT, env=env,
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True, text=True,
    )  # fmt: skip
    gateway = f"http://127.0.0.1:{ports['GATEWAY_PORT']}"
    try:
        deadline = time.monotonic() + 300
        # scripts.run announces the widget once the gateway answers its health check.
        while (
            time.monotonic() < deadline and "助手已就绪" not in (tmp_path / "run.log").read_text()
        ):
            assert process.poll() is None, (tmp_path / "run.log").read_text()[-3000:]
            time.sleep(1)
        output = (tmp_path / "run.log").read_text()
        assert f"{gateway}/" in output  # the widget URL is printed for the user

        assert httpx.get(f"{gateway}/health", timeout=5).status_code == 200
        assert httpx.get(f"http://127.0.0.1:{ports['EXCHANGE_PORT']}/health").status_code == 200
        assert httpx.get(f"http://127.0.0.1:{ports['ACTIONS_PORT']}/health").status_code == 200
        rasa = f"http://127.0.0.1:{ports['RASA_PORT']}"
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not port_open(ports["RASA_PORT"]):
            time.sleep(1)
        reply = httpx.post(f"{rasa}/webhooks/rest/webhook",
                           json={"sender": "make-run", "message": "你好"}, timeout=60)  # fmt: skip
        assert reply.status_code == 200 and reply.json(), reply.text
        # The gateway answers the phone line itself: one speech model in memory.
        assert port_open(ports["PHONE_PORT"])
        assert httpx.get(f"{gateway}/health", timeout=5).json()["phone_line"] is True
    finally:
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
    time.sleep(1)
    assert not any(port_open(port) for port in ports.values()), "a process outlived Ctrl-C"
    # make returns only when every process is gone (none orphaned without honcho).
    assert processes_with("VAR_DIR", str(tmp_path)) == [], "a process outlived Ctrl-C"
