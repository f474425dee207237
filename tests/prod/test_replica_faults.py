"""Kill a Rasa replica in the middle of conversations, then start it again.

The production topology from Procfile.prod, but each process started here on its
own (honcho stops every process when one dies; Kubernetes restarts just the one
container, and that is what we reproduce): exchange and tracker store on
PostgreSQL, locks in Redis, two Rasa replicas behind the proxy routing by
conversation (as RASA_ROUTING does by default). Conversations in the middle of
forms must continue from where they were through the surviving replica, go back
to their own replica once it is back, and every submission must be filed exactly
once. A replica that a conversation left and came back to must not answer from
the copy it kept in memory (rasa_addons.tracker_store.TrackerCache).
"""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from scripts import prod
from scripts.proxy import rank
from tests.prod.conftest import (
    Isolation,
    ProdStack,
    delete_keys,
    drop_schemas,
    prod_env,
    wait_for_backends,
)
from tests.prod.test_scale_out import ProxyChat
from tests.support.processes import PYTHON, Service
from tests.support.prodstack import rasa_server_command

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def _rasa(env: dict[str, str], port: int, name: str) -> Service:
    args = rasa_server_command(
        model=env["RASA_MODEL"], token=env["RASA_TOKEN"], port=port,
        endpoints="bot/endpoints.prod.yml",
    )  # fmt: skip
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
                 "--backends", env["RASA_BACKENDS"], "--health-path", "/",
                 "--route", "conversation", "--health-interval", "0.5"],
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


def sender_on(stack: ProdStack, replica: Service) -> str:
    """A new conversation id whose turns the proxy sends to ``replica`` while it is up."""
    urls = stack.replica_urls
    while True:
        sender = f"fault-{uuid.uuid4().hex[:12]}"
        if urls[rank(sender, urls)[0]] == replica.url:
            return sender


def _at_the_read_back(stack: ProdStack, name: str, home: Service) -> ProxyChat:
    chat = ProxyChat(stack, sender=sender_on(stack, home))
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
    homes = {"赵国强": one, "王秀英": two, "李建国": one}
    chats = {name: _at_the_read_back(stack, name, home) for name, home in homes.items()}
    for name, chat in chats.items():
        assert set(chat.backends) == {homes[name].url.removeprefix("http://")}
        assert chat.slot("destination_city") == "海口市"

    # SIGKILL: no goodbye, no flushed state; the proxy finds out by itself.
    assert one.process is not None
    one.process.send_signal(signal.SIGKILL)
    one.process.wait(timeout=30)
    survivor = two.url.removeprefix("http://")

    # The first two finish on the surviving replica, where they were.
    for name in ["赵国强", "王秀英"]:
        reply = chats[name].say("对")
        assert "编号" in reply, reply
        assert chats[name].backends[-1] == survivor
    # The third asks to hear it again: still at the read-back, nothing forgotten.
    last = chats["李建国"]
    last.say("再说一遍")
    assert last.backends[-1] == survivor
    tracker = httpx.get(
        f"{two.url}/conversations/{last.sender}/tracker",
        params={"token": stack.env["RASA_TOKEN"]},
        timeout=60,
    ).json()
    assert tracker["slots"]["requested_slot"] == "confirmation"

    # Start it again (as Kubernetes would): its conversations come back to it and
    # continue with what the other replica added meanwhile.
    one.start()
    wait_for_backends(stack.proxy_url, 2, timeout=600)
    reply = last.say("对")
    assert "编号" in reply, reply
    assert last.backends[-1] == one.url.removeprefix("http://")
    # Nothing lost, nothing doubled.
    for name in homes:
        filed = [
            a
            for a in stack.applications(name, "medical_insurance_filing")
            if a["destination_city"] == "海口市"
        ]
        assert len(filed) == 1, (name, filed)


def test_a_conversation_back_from_another_replica_is_read_afresh(
    replicas: tuple[ProdStack, list[Service]],
) -> None:
    """Frozen (a long pause, a full node), not killed: the replica keeps its copy in
    memory while the conversation goes on elsewhere, then gets the conversation back."""
    stack, (one, two) = replicas
    wait_for_backends(stack.proxy_url, 2, timeout=600)
    chat = _at_the_read_back(stack, "张桂芳", one)
    assert one.process is not None
    one.process.send_signal(signal.SIGSTOP)
    try:
        wait_until_down(stack.proxy_url, one)
        chat.say("不对，是三亚")  # on the other replica, which reads the new place back
        assert chat.backends[-1] == two.url.removeprefix("http://")
        assert chat.slot("destination_city", replica=two.url) == "三亚市"
    finally:
        one.process.send_signal(signal.SIGCONT)
    wait_for_backends(stack.proxy_url, 2, timeout=60)
    reply = chat.say("对")
    assert chat.backends[-1] == one.url.removeprefix("http://")
    assert "编号" in reply, reply
    # From its own copy, the replica would have filed the old read-back: Haikou.
    filed = stack.applications("张桂芳", "medical_insurance_filing")
    assert [a["destination_city"] for a in filed] == ["三亚市"]


def wait_until_down(url: str, replica: Service, timeout: float = 30) -> None:
    """Until the proxy at ``url`` has taken ``replica`` out."""
    deadline = time.monotonic() + timeout
    name = replica.url.removeprefix("http://")
    while time.monotonic() < deadline:
        if name in httpx.get(f"{url}/_proxy/health", timeout=5).json()["down"]:
            return
        time.sleep(0.2)
    raise TimeoutError(f"the proxy never saw {name} go down")
