"""Session fixtures that run the real stack: exchange, action server, Rasa.

Each process starts on a free port with its own SQLite files in a temporary
directory, only when a test asks for it, and is stopped at the end of the
session. Nothing here fakes a component.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts import stack, train
from tests.support.processes import PYTHON, ROOT, Service, free_port
from tests.support.prodstack import rasa_server_command

DEMO_DATA = ROOT / "data" / "demo" / "citizens.yml"


@pytest.fixture(scope="session")
def stack_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for one test stack: free ports, private databases."""
    ports = {name: free_port() for name in stack.DEFAULT_PORTS}
    var = tmp_path_factory.mktemp("stack-var")
    return stack.environment({}, ports=ports, var_dir=var)


@pytest.fixture(scope="session")
def exchange_server(stack_env: dict[str, str]) -> Iterator[Service]:
    subprocess.run(
        [PYTHON, "-m", "exchange", "seed", str(DEMO_DATA)],
        cwd=ROOT, env={**stack_env}, check=True, capture_output=True,
    )  # fmt: skip
    service = Service("exchange", [PYTHON, "-m", "exchange", "serve"],
                      int(stack_env["EXCHANGE_PORT"]), env=stack_env)  # fmt: skip
    with service:
        yield service


@pytest.fixture(scope="session")
def action_server(stack_env: dict[str, str], exchange_server: Service) -> Iterator[Service]:
    port = int(stack_env["ACTIONS_PORT"])
    # `python -m actions` serves rasa-sdk's app on ACTIONS_HOST (loopback), with log redaction.
    service = Service("actions", [PYTHON, "-m", "actions"], port, env=stack_env)
    with service:
        yield service


@pytest.fixture(scope="session")
def trained_model() -> Path:
    """The model `make train` built; trained here if a test run starts without it."""
    train.train()
    return train.MODEL_FILE


@pytest.fixture(scope="session")
def rasa_server(
    stack_env: dict[str, str], action_server: Service, trained_model: Path
) -> Iterator[Service]:
    port = int(stack_env["RASA_PORT"])
    args = rasa_server_command(model=trained_model, token=stack_env["RASA_TOKEN"], port=port)
    service = Service("rasa", args, port, env=stack_env, health_path="/", startup_timeout=240)
    with service:
        yield service
