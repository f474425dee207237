"""`make run-prod` starts the whole production profile and Ctrl-C stops all of it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time

import httpx
import pytest

from tests.prod.conftest import Isolation, prod_env, wait_for_backends
from tests.support.processes import ROOT, port_open, processes_with

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def test_make_run_prod_starts_everything_and_ctrl_c_stops_it(
    isolation: Isolation, pg_url, trained_model, tmp_path
):
    env = prod_env(isolation, pg_url, tmp_path)
    names = ("EXCHANGE_PORT", "RASA_PORT", "ACTIONS_PORT", "GATEWAY_PORT", "PHONE_PORT")
    ports = [int(env[name]) for name in names]
    for service in ("RASA", "ACTIONS"):
        first = int(env[f"{service}_REPLICA_PORT"])
        ports += [first, first + 1]
    log_path = tmp_path / "run-prod.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        ["make", "--no-print-directory", "run-prod"], cwd=ROOT, env={**os.environ, **env},
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True, text=True,
    )  # fmt: skip
    gateway = env["GATEWAY_URL"]
    try:
        deadline = time.monotonic() + 600
        # scripts.prod announces the widget once the gateway answers its health check.
        while time.monotonic() < deadline and "助手已就绪" not in log_path.read_text():
            assert process.poll() is None, log_path.read_text()[-3000:]
            time.sleep(1)
        assert f"{gateway}/" in log_path.read_text()
        wait_for_backends(env["RASA_URL"], 2, timeout=600)
        wait_for_backends(f"http://127.0.0.1:{env['ACTIONS_PORT']}", 2, timeout=60)
        assert httpx.get(f"{gateway}/health", timeout=5).status_code == 200
        assert httpx.get(f"http://127.0.0.1:{env['EXCHANGE_PORT']}/health").status_code == 200
        replicas = set()
        for text in ("你好", "成都的办事大厅在哪里", "都可以"):
            message = {"sender": "make-run-prod", "message": text}
            url = f"{env['RASA_URL']}/webhooks/rest/webhook"
            reply = httpx.post(url, json=message, timeout=120)
            assert reply.status_code == 200 and reply.json(), reply.text
            replicas.add(reply.headers["x-backend"])
        assert len(replicas) == 1  # RASA_ROUTING=conversation: the replica that holds it
        assert port_open(int(env["PHONE_PORT"]))
        running = processes_with("LOCK_KEY_PREFIX", isolation.key_prefix)
        servers = [
            cmd for cmd in running if re.match(r"\S*python\S* -m rasa_addons\.serve run ", cmd)
        ]
        assert len(servers) == 2, running  # the replicas, not the shells that started them
    finally:
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
    # make returns only when every process is gone: nothing listens, nothing is left.
    assert [port for port in ports if port_open(port)] == [], "a process outlived Ctrl-C"
    assert processes_with("LOCK_KEY_PREFIX", isolation.key_prefix) == [], (
        "a process outlived Ctrl-C"
    )
    assert "SIGINT received" in log_path.read_text()  # honcho did the stopping
