"""Kill a Rasa replica in the middle of conversations, then start it again.

The production topology from Procfile.prod, but each process started here on its
own (honcho stops every process when one dies; Kubernetes restarts just the one
container, and that is what we reproduce): exchange and tracker store on
PostgreSQL, locks in Redis, two Rasa replicas behind the round-robin proxy.
Conversations in the middle of forms must continue from where they were through
the surviving replica, then again across both once the killed one is back, and
every submission must be filed exactly once.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from scripts import prod
from tests.conftest import RASA
from tests.prod.conftest import (
    Isolation,
    ProdStack,
    delete_keys,
    drop_schemas,
    prod_env,
    wait_for_backends,
)
from tests.prod.test_scale_out import ProxyChat
from tests.support.processes import PYTHON, ROOT, Service

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def _rasa(env: dict[str, str], port: int, name: str) -> Service:
    args = [
        RASA, "run", "--model", env["RASA_MODEL"], "--enable-api",
        "--auth-token", env["RASA_TOKEN"], "--interface", "127.0.0.1", "--port", str(port),
        "--endpoints", str(ROOT / "bot/endpoints.prod.yml"),
        "--credentials", str(ROOT / "bot/credentials.yml"),
    ]  # fmt: skip
    return Service(name, args, port, env=env, health_path="/", startup_timeout=600)


@pytest.fixture(scope="module")
def replicas(
    pg_url: str,
    redis_client: redis.Redis,
    trained_model: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ProdStack, list[Service]]]:
    names = Isolation()
    env = prod_env(names, pg_url, tmp_path_factory.mktemp("replica-var"))
    env["RASA_MODEL"] = str(trained_model)
    env["ACTIONS_BACKENDS"] = f"http://127.0.0.1:{env['ACTIONS_PORT']}"
    prod.prepare(env)
    prod.seed(env)
    first = int(env["RASA_REPLICA_PORT"])
    rasa = [_rasa(env, first + i, f"replica-{i + 1}") for i in range(2)]
    services = [
        Service("replica-exchange", [PYTHON, "-m", "exchange", "serve"],
                int(env["EXCHANGE_PORT"]), env=env),
        Service("replica-actions", [PYTHON, "-m", "actions"], int(env["ACTIONS_PORT"]), env=env),
        *rasa,
        Service("replica-proxy",
                [PYTHON, "-m", "scripts.proxy", "--name", "rasa", "--port", env["RASA_PORT"],
                 "--backends", env["RASA_BACKENDS"], "--health-path", "/"],
                int(env["RASA_PORT"]), env=env, health_path="/_proxy/health"),
    ]  # fmt: skip
    started: list[Service] = []
    try:
        for service in services:
            started.append(service.start())
        wait_for_backends(env["RASA_URL"], 2, timeout=300)
        yield ProdStack(env, services[-1]), rasa
    finally:
        for service in reversed(started):
            service.stop()
        drop_schemas(pg_url, names.tracker_schema, names.exchange_schema)
        delete_keys(redis_client, names.key_prefix)


def _at_the_read_back(stack: ProdStack, name: str) -> ProxyChat:
    chat = ProxyChat(stack)
    chat.say("我要办异地就医备案")
    chat.verify(name)
    chat.say("海南海口")
    chat.say("三")
    assert chat.slot("requested_slot") == "confirmation"
    return chat


def test_a_killed_replica_loses_no_conversation(
    replicas: tuple[ProdStack, list[Service]],
) -> None:
    stack, (one, two) = replicas
    people = ["赵国强", "王秀英", "李建国"]
    chats = {name: _at_the_read_back(stack, name) for name in people}
    before = {name: chat.slot("destination_city") for name, chat in chats.items()}
    assert set(before.values()) == {"海口市"}

    # SIGKILL: no goodbye, no flushed state; the proxy finds out by itself.
    assert one.process is not None
    one.process.send_signal(signal.SIGKILL)
    one.process.wait(timeout=30)
    survivor = two.url.removeprefix("http://")

    # The first two finish on the surviving replica, where they were.
    for name in people[:2]:
        reply = chats[name].say("对")
        assert "编号" in reply, reply
        assert chats[name].backends[-1] == survivor
    # The third asks to hear it again: still at the read-back, nothing forgotten.
    chats[people[2]].say("再说一遍")
    assert chats[people[2]].backends[-1] == survivor
    tracker = httpx.get(
        f"{two.url}/conversations/{chats[people[2]].sender}/tracker",
        params={"token": stack.env["RASA_TOKEN"]},
        timeout=60,
    ).json()
    assert tracker["slots"]["requested_slot"] == "confirmation"

    # Start it again (as Kubernetes would); turns are shared by both once more.
    one.start()
    wait_for_backends(stack.proxy_url, 2, timeout=600)
    last = chats[people[2]]
    reply = last.say("对")
    assert "编号" in reply, reply
    later = ProxyChat(stack)
    later.say("你好")
    later.say("成都的办事大厅在哪里")
    assert set(later.backends) == {one.url.removeprefix("http://"), survivor}
    # Nothing lost, nothing doubled.
    for name in people:
        filed = [
            a
            for a in stack.applications(name, "medical_insurance_filing")
            if a["destination_city"] == "海口市"
        ]
        assert len(filed) == 1, (name, filed)
