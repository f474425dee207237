"""PostgreSQL goes away under load and comes back: the stack recovers by itself.

Conversations (Rasa's tracker store) and the exchange both live in PostgreSQL,
reached through a TCP proxy that stands in for the database server: `refuse()`
is a stopped server, `drop_all()` a restart that cuts every open connection.
Each run uses its own two schemas and drops them afterwards.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import psycopg2
import pytest
from sqlalchemy.engine import make_url

from tests.e2e.conftest import CITIZENS, Chat
from tests.faults.conftest import (
    FaultStack,
    fault_stack,
    new_schema,
    pg_schemas,
    schema_exists,
)
from tests.support.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

SERVICE = "medical_insurance_filing"


@dataclass
class PgStack:
    stack: FaultStack
    database: TcpProxy  # stands in for the PostgreSQL server
    url: str  # PostgreSQL itself, for the test's own reads
    tracker_schema: str


@pytest.fixture(scope="module")
def pg_stack(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgStack]:
    exchange_schema, tracker_schema = new_schema("faults_exchange"), new_schema("faults_tracker")
    with (
        pg_schemas(pg_url, exchange_schema, tracker_schema),
        TcpProxy(make_url(pg_url).port or 5432) as database,
    ):
        proxied = make_url(pg_url).set(host="127.0.0.1", port=database.port)
        proxied_url = proxied.render_as_string(hide_password=False)
        extra = {
            "EXCHANGE_DATABASE_URL": proxied_url,
            "EXCHANGE_DB_SCHEMA": exchange_schema,
            "TRACKER_DIALECT": "postgresql",
            "TRACKER_URL": f"{proxied_url}?options=-csearch_path%3D{tracker_schema}",
        }
        tmp = tmp_path_factory.mktemp("faults-postgres")
        with fault_stack(
            tmp, "faults-pg", extra=extra, pg_proxy=database,
            exchange_db=(pg_url, exchange_schema),
        ) as running:  # fmt: skip
            yield PgStack(running, database, pg_url, tracker_schema)
    left = [s for s in (exchange_schema, tracker_schema) if schema_exists(pg_url, s)]
    assert not left, f"schemas left behind: {left}"


@pytest.fixture
def pg(pg_stack: PgStack) -> Iterator[tuple[FaultStack, TcpProxy]]:
    pg_stack.stack.ensure_running()
    yield pg_stack.stack, pg_stack.database
    pg_stack.stack.ensure_running()


def apologised(reply: str) -> bool:
    return "对不起" in reply and "12345" in reply


def test_conversations_are_stored_in_postgresql(pg_stack: PgStack, pg):
    chat = pg_stack.stack.chat()
    chat.say("我要办异地就医备案")
    assert chat.slot("requested_slot") == "person_name"
    connection = psycopg2.connect(pg_stack.url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                f'select count(*) from "{pg_stack.tracker_schema}".events where sender_id = %s',
                (chat.sender,),
            )
            assert cursor.fetchone()[0] > 0
    finally:
        connection.close()
    assert pg_stack.database.accepted > 0  # through the proxy, which the tests break


def test_database_down_mid_form_then_back(pg):
    stack, database = pg
    people = {"王秀英": "上海", "刘淑珍": "上海", "李建国": "上海", "陈德明": "上海"}
    before = {name: len(stack.applications.of(name, SERVICE)) for name in people}
    chats: dict[str, Chat] = {name: stack.chat() for name in people}
    for name, chat in chats.items():
        chat.say("我要办异地就医备案")
        chat.verify(name)
        chat.say(people[name])
        chat.say("一")
        assert chat.slot("requested_slot") == "confirmation", chat.replies[-1]
    zhang = stack.chat()
    zhang.say("我要办异地就医备案")
    zhang.say("我叫张桂芳")  # identity form, ID number next

    database.refuse()  # the server stops: every open connection is cut, new ones refused
    for chat in chats.values():
        reply = chat.say("对")  # HTTP 200 (Chat checks), a clear answer, nothing filed
        assert apologised(reply), reply
    assert apologised(zhang.say(CITIZENS["张桂芳"][0]))
    database.restore()

    # The first message after the restart works: no one has to repeat it twice.
    for name, chat in chats.items():
        reply = chat.say("对")
        assert "编号" in reply, (name, reply)
    zhang.say(CITIZENS["张桂芳"][0])
    assert zhang.slot("requested_slot") == "phone_last4"
    after = {name: len(stack.applications.of(name, SERVICE)) for name in people}
    assert after == {name: count + 1 for name, count in before.items()}


def test_a_restart_between_two_messages_goes_unnoticed(pg):
    """Every pooled connection dies while nobody talks: the next messages just work."""
    stack, database = pg
    before = len(stack.applications.of("张桂芳", SERVICE))
    chats = [stack.chat() for _ in range(3)]
    for chat in chats:
        chat.say("我要办异地就医备案")
    zhang = chats[0]
    zhang.verify("张桂芳")
    zhang.say("成都")
    zhang.say("一")
    assert zhang.slot("requested_slot") == "confirmation"

    assert database.drop_all() > 0  # the pooled connections of Rasa and the exchange
    for chat in chats[1:]:
        assert "身份证" in chat.say("我叫陈德明"), chat.replies[-1]
    assert "编号" in zhang.say("对"), zhang.replies[-1]
    assert len(stack.applications.of("张桂芳", SERVICE)) == before + 1


def slots_of(chat: Chat) -> dict:
    """The test's own look at the tracker, read again if a cut connection broke it."""
    for _ in range(10):
        try:
            return chat.tracker()["slots"]
        except httpx.HTTPError:
            time.sleep(0.3)
    return chat.tracker()["slots"]


def file_persistently(chat: Chat, name: str, city: str, replies: list[str]) -> None:
    """A patient caller: says it again after an apology, accepts every retry offered."""
    number, last4 = CITIZENS[name]
    steps = [
        ("我要办异地就医备案", "person_name"),
        (f"我叫{name}", "id_number"),
        (number, "phone_last4"),
        (last4, "destination_city"),
        (city, "filing_reason"),
        ("一", "confirmation"),
        ("对", None),
    ]
    for text, expected in steps:
        for _ in range(8):
            reply = chat.say(text)
            replies.append(reply)
            slots = slots_of(chat)
            if slots.get("pending_offer") in ("retry_submit", "retry_verify"):
                text = "好"  # "要我再试一次吗？" - yes
                continue
            if slots.get("requested_slot") == expected and (expected or "编号" in reply):
                break
            time.sleep(0.2)
        else:
            raise AssertionError(f"{name} stuck before {expected}: {replies[-3:]}")


def test_connections_cut_again_and_again_while_conversations_run(pg):
    stack, database = pg
    people = {"王秀英": "杭州", "刘淑珍": "杭州", "李建国": "杭州", "陈德明": "杭州"}
    before = {name: len(stack.applications.of(name, SERVICE)) for name in people}
    replies: dict[str, list[str]] = {name: [] for name in people}
    errors: list[Exception] = []

    def run(name: str) -> None:
        try:
            file_persistently(stack.chat(), name, people[name], replies[name])
        except (AssertionError, httpx.HTTPError) as error:  # reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(name,)) for name in people]
    for thread in threads:
        thread.start()
    cuts = 0
    while any(thread.is_alive() for thread in threads) and cuts < 12:
        time.sleep(0.7)
        cuts += 1
        database.drop_all()  # a restart: the connections in use and in the pools die
    for thread in threads:
        thread.join(timeout=600)
    assert not errors, errors
    assert all(reply.strip() for answers in replies.values() for reply in answers)
    after = {name: len(stack.applications.of(name, SERVICE)) for name in people}
    assert after == {name: count + 1 for name, count in before.items()}
