"""The Rasa server command: Rasa's own command line, without JAX in the process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rasa_addons import serve
from tests.support.processes import PYTHON, ROOT, Service


def _run(code: str) -> str:
    done = subprocess.run(
        [PYTHON, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300, check=True
    )
    return done.stdout.strip()


def test_tensorflow_loads_without_jax_once_it_is_kept_out():
    # In a fresh interpreter: this test process may have imported either already.
    out = _run(
        "import sys\n"
        "from rasa_addons import serve\n"
        "print(serve.keep_out())\n"
        "import tensorflow as tf\n"
        "print(sys.modules['jax'] is None, 'jaxlib' in sys.modules, tf.constant(2).numpy() * 3)"
    )
    assert out.splitlines() == ["['jax']", "True False 6"]


def test_without_it_tensorflow_would_load_jax():
    # The reason for the command: if TensorFlow stops importing JAX, this fails and
    # rasa_addons/serve.py can go.
    assert _run("import sys, tensorflow; print('jax' in sys.modules)") == "True"


def test_a_module_already_loaded_is_left_alone(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "already_here", sys)
    assert serve.keep_out(("already_here",)) == []
    assert sys.modules["already_here"] is sys


def test_it_is_rasas_command_line():
    done = subprocess.run(
        [PYTHON, "-m", "rasa_addons.serve", "run", "--help"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: rasa run")
    assert "--enable-api" in done.stdout


def _mapped_files(pid: int) -> set[str]:
    lines = Path(f"/proc/{pid}/maps").read_text().splitlines()
    return {line.split()[-1] for line in lines if "/" in line}


def test_the_running_rasa_server_holds_tensorflow_and_no_jax(rasa_server: Service):
    assert rasa_server.process is not None
    mapped = _mapped_files(rasa_server.process.pid)
    assert any("libtensorflow_framework" in path for path in mapped)
    assert not [path for path in mapped if "/jaxlib/" in path]
