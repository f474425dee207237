"""Start the production profile in the foreground with honcho (`make run-prod`).

    python -m scripts.prod            check, prepare, seed the demo data if empty, start
    python -m scripts.prod prepare    check PostgreSQL and Redis, make the schemas (k8s init)

What it starts (Procfile.prod): the exchange on PostgreSQL; RASA_REPLICAS Rasa
servers sharing conversations in PostgreSQL and their locks in Redis
(bot/endpoints.prod.yml); ACTIONS_REPLICAS action servers; a proxy
(scripts/proxy.py) in front of each replicated service, on RASA_PORT and
ACTIONS_PORT, where the gateway and Rasa look for them; the gateway and phone line.

Before anything starts, a preflight checks what the profile needs from outside
(PostgreSQL, Redis, free ports, a trained model) and stops with one sentence per
problem: what is missing, where, and which variable to change.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx
import psycopg2
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.util import deprecations

from scripts import run as default_profile
from scripts import stack
from scripts.proxy import HEALTH_PATH, ROUTINGS
from scripts.run import port_open, supervise

ROOT = stack.ROOT
PROCFILE = ROOT / "Procfile.prod"
DEMO_DATA = ROOT / "data" / "demo" / "citizens.yml"
SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
CONNECT_TIMEOUT = 3
DATABASES = ("TRACKER_URL", "EXCHANGE_DATABASE_URL")


def load_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The shell's variables over .env, over the production defaults (scripts/stack.py)."""
    return default_profile.load_environment(base, profile=stack.production_environment)


def where(url: URL) -> str:
    """Host, port and database of a URL, never its password."""
    return f"{url.host or 'localhost'}:{url.port or 5432} (database {url.database})"


def check_settings(env: Mapping[str, str], databases: Sequence[str] = DATABASES) -> list[str]:
    problems = []
    for name in ("RASA_REPLICAS", "ACTIONS_REPLICAS"):
        if not env.get(name, "").isdigit() or int(env[name]) < 1:
            problems.append(
                f"{name}={env.get(name)!r} is not a number of copies: set it to 1 or more."
            )
    for name in ("RASA_REPLICA_PORT", "ACTIONS_REPLICA_PORT", "REDIS_PORT", "REDIS_DB"):
        if not env.get(name, "").isdigit():
            problems.append(f"{name}={env.get(name)!r} is not a number: set it to one.")
    for name in ("TRACKER_SCHEMA", "EXCHANGE_DB_SCHEMA"):
        if not SCHEMA_NAME.fullmatch(env.get(name, "")):
            problems.append(
                f"{name}={env.get(name)!r} is not a usable schema name: "
                "use lowercase letters, digits and underscores."
            )
    if env.get("RASA_ROUTING") not in ROUTINGS:
        problems.append(
            f"RASA_ROUTING={env.get('RASA_ROUTING')!r} is not a way to route: "
            f"set it to {' or '.join(ROUTINGS)}."
        )
    if not env.get("LOCK_KEY_PREFIX", "").isalnum():
        # Rasa would silently fall back to its default prefix and share keys with others.
        problems.append(
            f"LOCK_KEY_PREFIX={env.get('LOCK_KEY_PREFIX')!r} must be letters and digits only."
        )
    for name in databases:
        value = env.get(name, "")
        try:
            url = make_url(value)
        except ArgumentError:
            problems.append(
                f"{name} is not a database URL: set it to postgresql://USER@HOST:PORT/DB."
            )
            continue
        if url.get_backend_name() != "postgresql":
            problems.append(
                f"The production profile keeps its data in PostgreSQL, but {name} points to "
                f"{url.get_backend_name()}: set {name} to postgresql://USER@HOST:PORT/DB."
            )
        elif name == "TRACKER_URL" and url.query:
            problems.append(
                "TRACKER_URL must have no '?...' options (bot/endpoints.prod.yml adds the "
                "schema): remove them from TRACKER_URL."
            )
    return problems


def check_postgres(env: Mapping[str, str], databases: Sequence[str] = DATABASES) -> list[str]:
    """One sentence per unreachable PostgreSQL database (both URLs may name the same one)."""
    users: dict[str, list[str]] = {}
    for name in databases:
        users.setdefault(env[name], []).append(name)
    problems = []
    for value, names in users.items():
        url = make_url(value)
        try:
            psycopg2.connect(
                dbname=url.database, user=url.username, password=url.password,
                host=url.host, port=url.port, connect_timeout=CONNECT_TIMEOUT,
            ).close()  # fmt: skip
        except psycopg2.Error as exc:
            problems.append(
                f"PostgreSQL is not reachable at {where(url)} ({_short(str(exc))}): "
                f"start it there or change {' and '.join(names)}."
            )
    return problems


def _short(reason: str) -> str:
    """The gist of a driver's error message, without its hints and line breaks."""
    for known in ("connection refused", "timeout expired", "does not exist",
                  "password authentication failed", "could not translate host name",
                  "timed out", "name or service not known"):  # fmt: skip
        if known in reason.lower():
            return known
    lines = [line.strip() for line in reason.strip().splitlines() if line.strip()]
    return (lines[-1] if lines else "no answer").rstrip(".")


def redis_client(env: Mapping[str, str]) -> redis.Redis:
    return redis.Redis(
        host=env["REDIS_HOST"], port=int(env["REDIS_PORT"]), db=int(env["REDIS_DB"]),
        password=env.get("REDIS_PASSWORD") or None, socket_timeout=CONNECT_TIMEOUT,
        socket_connect_timeout=CONNECT_TIMEOUT,
    )  # fmt: skip


def check_redis(env: Mapping[str, str]) -> list[str]:
    address = f"{env['REDIS_HOST']}:{env['REDIS_PORT']} (db {env['REDIS_DB']})"
    client = redis_client(env)
    try:
        client.ping()
    except redis.AuthenticationError:
        return [f"Redis at {address} refused the password: set REDIS_PASSWORD."]
    except redis.ResponseError as exc:  # e.g. a db number the server does not have
        return [f"Redis at {address} said {exc}: change REDIS_DB."]
    except redis.RedisError as exc:
        return [
            f"Redis is not reachable at {address} ({_short(str(exc))}): "
            "start it there or change REDIS_HOST / REDIS_PORT."
        ]
    finally:
        client.close()
    return []


def check_local(env: Mapping[str, str]) -> list[str]:
    """What only a local start needs: free ports and a trained model."""
    ports = {name: env[name] for name in stack.DEFAULT_PORTS}
    for service in ("RASA", "ACTIONS"):
        first, count = int(env[f"{service}_REPLICA_PORT"]), int(env[f"{service}_REPLICAS"])
        for i in range(count):
            name = f"{service}_REPLICA_PORT" + (f"+{i}" if i else "")
            ports[name] = str(first + i)
    problems = []
    seen: dict[str, str] = {}
    for name, port in ports.items():
        if port in seen:
            problems.append(f"{name} and {seen[port]} both use port {port}: change one of them.")
        seen[port] = name
    if taken := [f"{name}={port}" for name, port in ports.items() if port_open(int(port))]:
        problems.append(
            f"These ports are already in use: {', '.join(taken)}: "
            "stop the other program or set other ports in .env."
        )
    if not Path(env["RASA_MODEL"]).exists():
        problems.append(f"There is no trained model at {env['RASA_MODEL']}: run `make train`.")
    return problems


def preflight(env: Mapping[str, str], *, local: bool = True) -> list[str]:
    """Every problem found, each as one sentence; empty when the profile can start.

    ``local=False`` is what a Rasa pod needs before it starts (``prepare``): its
    own database and Redis; ports, the model and the exchange are not its business.
    """
    databases = DATABASES if local else ("TRACKER_URL",)
    problems = check_settings(env, databases)
    if problems:
        return problems  # the checks below need sane settings
    problems = check_postgres(env, databases) + check_redis(env)
    if local:
        problems += check_local(env)
    return problems


def prepare(env: Mapping[str, str]) -> None:
    """Make the tracker schema and its table before the replicas race to make them.

    Two Rasa replicas starting together would both try CREATE TABLE; Rasa survives
    that but logs errors. The exchange makes its own schema (init_db).
    """
    schema = env["TRACKER_SCHEMA"]
    url = make_url(env["TRACKER_URL"]).update_query_dict({"options": f"-csearch_path={schema}"})
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        # What SQLALCHEMY_SILENCE_UBER_WARNING=1 (set for every process of the stack) does;
        # this process imported SQLAlchemy before it could be set. Rasa's models are 1.4-style.
        deprecations.SILENCE_UBER_WARNING = True
        from rasa.core.tracker_store import SQLTrackerStore

        SQLTrackerStore.Base.metadata.create_all(engine)
    finally:
        engine.dispose()


def seed(env: Mapping[str, str]) -> None:
    """The demo citizens and halls, like `make run`, only into an empty exchange."""
    done = subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, "-m", "exchange", "seed", str(DEMO_DATA), "--if-empty"],
        cwd=ROOT, env=dict(env), capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0:
        sys.exit(f"[run-prod] seeding the exchange failed: {done.stderr.strip()}")
    print(f"[run-prod] {done.stdout.strip()}")


def stop_if(problems: list[str]) -> None:
    if problems:
        sys.exit("\n".join(f"[run-prod] {problem}" for problem in problems))


def announce_when_ready(env: Mapping[str, str], timeout: float = 900) -> None:
    """Print the widget address once every Rasa replica and the gateway answer."""
    replicas, gateway = int(env["RASA_REPLICAS"]), env["GATEWAY_URL"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            up = httpx.get(env["RASA_URL"] + HEALTH_PATH, timeout=2).json().get("up", [])
            if len(up) == replicas and httpx.get(f"{gateway}/health", timeout=2).is_success:
                print(
                    f"\n  助手已就绪 / ready ({replicas} Rasa servers):  {gateway}/   "
                    f"(agent view: {gateway}/agent)\n",
                    flush=True,
                )
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(1)


def run(env: dict[str, str]) -> int:
    stop_if(preflight(env))
    prepare(env)
    seed(env)
    url = env["GATEWAY_URL"]
    print(
        f"[run-prod] starting the exchange, {env['ACTIONS_REPLICAS']} action servers, "
        f"{env['RASA_REPLICAS']} Rasa servers (behind proxies on {env['ACTIONS_PORT']} and "
        f"{env['RASA_PORT']}), gateway and phone line; web widget at {url}/",
        flush=True,
    )
    threading.Thread(target=announce_when_ready, args=(env,), daemon=True).start()
    honcho = Path(sys.executable).with_name("honcho")
    concurrency = f"rasa={env['RASA_REPLICAS']},actions={env['ACTIONS_REPLICAS']}"
    command = [str(honcho), "start", "--procfile", str(PROCFILE), "--env", os.devnull,
               "--concurrency", concurrency]  # fmt: skip
    return supervise(command, env)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", nargs="?", choices=["run", "prepare"], default="run")
    args = parser.parse_args(argv)
    env = load_environment()
    if args.command == "prepare":
        stop_if(preflight(env, local=False))
        prepare(env)
        print(f"[run-prod] PostgreSQL and Redis answer; schema {env['TRACKER_SCHEMA']} is ready.")
        return
    sys.exit(run(env))


if __name__ == "__main__":
    main()
