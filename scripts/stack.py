"""How the processes of the stack find each other.

Each service reads its own settings (exchange/core/config.py, actions/settings.py,
voice/settings.py); this module only wires them together: ports, the URLs
derived from them, and the local storage paths. `make run` and the end-to-end
test fixtures both build the environment here, so they start the same stack.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

# The voice gateway refuses its development token in production, so it owns the value.
from voice.settings import DEV_RASA_TOKEN

ROOT = Path(__file__).resolve().parent.parent

DEFAULT_PORTS = {
    "EXCHANGE_PORT": 8100,
    "RASA_PORT": 5005,
    "ACTIONS_PORT": 5055,
    "GATEWAY_PORT": 8080,
    "PHONE_PORT": 9092,
}


def environment(
    base: Mapping[str, str] | None = None,
    *,
    ports: Mapping[str, int] | None = None,
    var_dir: Path | None = None,
) -> dict[str, str]:
    """The variables every process of the stack needs.

    Values already set in ``base`` (normally ``os.environ``, which honcho fills
    from ``.env``) win over defaults; explicit ``ports`` win over both, so tests
    can run a stack on free ports beside a developer's running one.
    """
    base = dict(os.environ if base is None else base)
    var = Path(var_dir or base.get("VAR_DIR") or ROOT / "var")
    env: dict[str, str] = {name: str(port) for name, port in DEFAULT_PORTS.items()}
    env.update({name: base[name] for name in DEFAULT_PORTS if base.get(name)})
    env.update({name: str(port) for name, port in (ports or {}).items()})

    derived = {
        "VAR_DIR": str(var),
        "EXCHANGE_URL": f"http://127.0.0.1:{env['EXCHANGE_PORT']}",
        "EXCHANGE_DATABASE_URL": f"sqlite:///{var}/exchange.db",
        "ACTION_SERVER_URL": f"http://127.0.0.1:{env['ACTIONS_PORT']}/webhook",
        "RASA_URL": f"http://127.0.0.1:{env['RASA_PORT']}",
        "RASA_HOST": "127.0.0.1",
        "RASA_TOKEN": DEV_RASA_TOKEN,
        "RASA_MODEL": str(ROOT / "models" / "assistant.tar.gz"),
        "TRACKER_DIALECT": "sqlite",
        "TRACKER_URL": f"sqlite:///{var}/tracker.db",
        "GATEWAY_URL": f"http://127.0.0.1:{env['GATEWAY_PORT']}",
        # One voice process for kiosks, widget and phones: one speech model in memory.
        "VOICE_PHONE_IN_GATEWAY": "true",
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
        "PYTHONPATH": str(ROOT),
    }
    for name, value in derived.items():
        env[name] = base.get(name) or value
    if ports:  # URLs must follow explicitly chosen ports even if base has old ones
        env["EXCHANGE_URL"] = f"http://127.0.0.1:{env['EXCHANGE_PORT']}"
        env["ACTION_SERVER_URL"] = f"http://127.0.0.1:{env['ACTIONS_PORT']}/webhook"
        env["RASA_URL"] = f"http://127.0.0.1:{env['RASA_PORT']}"
        env["GATEWAY_URL"] = f"http://127.0.0.1:{env['GATEWAY_PORT']}"
    var.mkdir(parents=True, exist_ok=True)
    return env


# The production profile (`make run-prod`, scripts/prod.py, deploy/k8s): the same
# processes, with conversations and the exchange in PostgreSQL, Rasa's lock in Redis,
# and Rasa and the action server replicated behind proxies (scripts/proxy.py)
# that listen on RASA_PORT and ACTIONS_PORT. Replica i (from 0) listens on
# RASA_REPLICA_PORT + i (default RASA_PORT + 1), and the same for the action server.
PROD_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"
PROD_DEFAULTS = {
    "RASA_REPLICAS": "2",
    "ACTIONS_REPLICAS": "2",
    # How the Rasa proxy picks a replica (scripts/proxy.py --route).
    "RASA_ROUTING": "conversation",
    "REDIS_HOST": "127.0.0.1",
    "REDIS_PORT": "6379",
    "REDIS_DB": "1",
    "REDIS_PASSWORD": "",
    # Redis key prefix of the conversation locks (letters and digits only).
    "LOCK_KEY_PREFIX": "laoban",
    # PostgreSQL schemas: the trackers' `events` table never meets another profile's.
    "TRACKER_SCHEMA": "rasa_tracker",
    "EXCHANGE_DB_SCHEMA": "exchange",
}
REPLICA_PORTS = {"RASA_REPLICA_PORT": "RASA_PORT", "ACTIONS_REPLICA_PORT": "ACTIONS_PORT"}


def production_environment(
    base: Mapping[str, str] | None = None,
    *,
    ports: Mapping[str, int] | None = None,
    var_dir: Path | None = None,
) -> dict[str, str]:
    """``environment()`` for the production profile; ``ports`` may hold replica ports too."""
    base = dict(os.environ if base is None else base)
    ports = dict(ports or {})
    env = environment(
        base,
        ports={k: v for k, v in ports.items() if k in DEFAULT_PORTS} or None,
        var_dir=var_dir,
    )
    for name, value in PROD_DEFAULTS.items():
        env[name] = base.get(name, value)  # an empty REDIS_PASSWORD is a real choice
    for name in ("EXCHANGE_DATABASE_URL", "TRACKER_URL"):
        env[name] = base.get(name) or PROD_DATABASE_URL
    env["TRACKER_DIALECT"] = "postgresql"
    for replica, proxy in REPLICA_PORTS.items():
        first = ports.get(replica) or base.get(replica) or int(env[proxy]) + 1
        env[replica] = str(first)
    for service in ("RASA", "ACTIONS"):
        first, count = env[f"{service}_REPLICA_PORT"], env[f"{service}_REPLICAS"]
        # Nonsense counts or ports give no backends; scripts/prod.py's preflight says why.
        if first.isdigit() and count.isdigit():
            urls = [f"http://127.0.0.1:{int(first) + i}" for i in range(int(count))]
            env[f"{service}_BACKENDS"] = ",".join(urls)
        else:
            env[f"{service}_BACKENDS"] = ""
    return env
