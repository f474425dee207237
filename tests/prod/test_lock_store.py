"""Rasa's RedisLockStore races between replicas; rasa_addons.lock_store does not.

Real Redis. Each "replica" is a lock store with its own Redis connection in its own
thread, all working on the same conversation at the same moment, as two Rasa
servers behind a load balancer do when a user sends two messages quickly.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
import redis
from rasa.core.lock_store import LockError, LockStore, RedisLockStore
from rasa.core.utils import read_endpoints_from_path

from rasa_addons.lock_store import AtomicRedisLockStore
from tests.prod.conftest import REDIS_DB, REDIS_HOST, REDIS_PORT, delete_keys
from tests.support.processes import ROOT

REPLICAS = 6
CONVERSATION = "same-conversation"


@pytest.fixture
def prefix(redis_client: redis.Redis) -> Iterator[str]:
    name = f"locktest{uuid.uuid4().hex[:10]}"
    yield name
    delete_keys(redis_client, name)


def stores(cls: type[RedisLockStore], prefix: str, count: int = REPLICAS) -> list:
    return [
        cls(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB, key_prefix=prefix) for _ in range(count)
    ]


def at_once(replicas: list, work: Callable) -> None:
    """Run ``work(store)`` for every replica in its own thread, released together."""
    barrier = threading.Barrier(len(replicas))

    def run(store) -> None:
        barrier.wait()
        work(store)

    threads = [threading.Thread(target=run, args=(store,)) for store in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def issue_tickets(cls: type[RedisLockStore], prefix: str, per_replica: int = 20):
    """Every replica asks for tickets at once; returns (issued numbers, tickets kept)."""
    replicas = stores(cls, prefix)
    issued: list[int] = []

    def work(store) -> None:
        for _ in range(per_replica):
            issued.append(store.issue_ticket(CONVERSATION))

    at_once(replicas, work)
    lock = replicas[0].get_lock(CONVERSATION)
    return issued, [ticket.number for ticket in lock.tickets] if lock else []


def guarded_counter(cls: type[RedisLockStore], prefix: str, per_replica: int = 8):
    """Each replica increments a Redis counter by read, pause, write under the lock, as
    Rasa reads a tracker, handles the message and saves it. Returns (count, lock errors)."""
    replicas = stores(cls, prefix, count=4)
    counter = f"{prefix}:counter"
    errors: list[LockError] = []

    async def one_message(store) -> None:
        # A ticket lost by Rasa's store keeps its message waiting until the lock expires.
        async with store.lock(CONVERSATION, lock_lifetime=10, wait_time_in_seconds=0.01):
            value = int(store.red.get(counter) or 0)
            await asyncio.sleep(0.005)
            store.red.set(counter, value + 1)

    def work(store) -> None:
        for _ in range(per_replica):
            try:
                asyncio.run(one_message(store))
            except LockError as exc:
                errors.append(exc)

    at_once(replicas, work)
    return int(replicas[0].red.get(counter) or 0), errors, 4 * per_replica


def test_rasa_redis_lock_store_gives_one_ticket_number_to_several_replicas(prefix):
    """The race, reproduced: GET-change-SET lets two replicas take the same ticket."""
    issued, kept = issue_tickets(RedisLockStore, prefix)
    assert len(set(issued)) < len(issued)  # duplicates: two replicas both "first in line"
    assert len(kept) < len(issued)  # and tickets overwritten by another replica's SET


def test_rasa_redis_lock_store_lets_two_replicas_in_at_once(prefix):
    count, errors, messages = guarded_counter(RedisLockStore, prefix)
    # Lost updates (two holders at once) or messages refused with LockError, or both.
    assert count < messages or errors


def test_atomic_lock_store_gives_every_ticket_once_and_keeps_them_all(prefix):
    issued, kept = issue_tickets(AtomicRedisLockStore, prefix)
    assert len(set(issued)) == len(issued) == REPLICAS * 20
    assert sorted(kept) == sorted(issued)


def test_atomic_lock_store_lets_one_replica_in_at_a_time(prefix):
    count, errors, messages = guarded_counter(AtomicRedisLockStore, prefix)
    assert errors == []
    assert count == messages


def test_the_lock_is_gone_when_the_last_ticket_is_done(prefix, redis_client):
    store, other = stores(AtomicRedisLockStore, prefix, count=2)
    first = store.issue_ticket(CONVERSATION, lock_lifetime=30)
    second = other.issue_ticket(CONVERSATION, lock_lifetime=30)
    key = f"{prefix}:lock:{CONVERSATION}"
    assert 0 < redis_client.pttl(key) <= 31_000  # a crashed replica's lock expires by itself
    assert not store.get_lock(CONVERSATION).is_locked(first)
    assert other.get_lock(CONVERSATION).is_locked(second)
    store.cleanup(CONVERSATION, first)
    assert not other.get_lock(CONVERSATION).is_locked(second)  # next in line is served
    other.cleanup(CONVERSATION, second)
    assert redis_client.exists(key) == 0


def test_a_late_cleanup_never_removes_a_newer_holders_ticket(prefix):
    """A slow replica's ticket expires; another replica takes the conversation; the slow
    one finishing afterwards must not free the conversation (ticket numbers never repeat)."""
    slow, fast = stores(AtomicRedisLockStore, prefix, count=2)
    old = slow.issue_ticket(CONVERSATION, lock_lifetime=0.2)
    time.sleep(0.4)
    new = fast.issue_ticket(CONVERSATION, lock_lifetime=30)
    assert new != old
    slow.cleanup(CONVERSATION, old)
    lock = fast.get_lock(CONVERSATION)
    assert lock is not None and not lock.is_locked(new)


async def test_a_waiting_message_is_served_soon_after_the_first(prefix):
    """Rasa waits a whole second between looks; older callers should not wait that long."""
    holder, waiter = stores(AtomicRedisLockStore, prefix, count=2)
    order: list[str] = []

    async def first() -> None:
        async with holder.lock(CONVERSATION):
            order.append("first in")
            await asyncio.sleep(0.3)
            order.append("first out")

    async def second() -> float:
        await asyncio.sleep(0.05)
        async with waiter.lock(CONVERSATION):  # Rasa's call: wait_time_in_seconds=1
            order.append("second in")
            return time.monotonic()

    started = time.monotonic()
    _, entered = await asyncio.gather(first(), second())
    assert order == ["first in", "first out", "second in"]
    assert entered - started < 0.3 + 0.5


def test_rasa_builds_it_from_the_production_endpoints(prefix, monkeypatch):
    for name, value in {
        "ACTION_SERVER_URL": "http://127.0.0.1:5055/webhook",
        "TRACKER_DIALECT": "postgresql",
        "TRACKER_URL": "postgresql://postgres@127.0.0.1:5432/test",
        "TRACKER_SCHEMA": "rasa_tracker",
        "REDIS_HOST": REDIS_HOST,
        "REDIS_PORT": str(REDIS_PORT),
        "REDIS_DB": str(REDIS_DB),
        "REDIS_PASSWORD": "",
        "LOCK_KEY_PREFIX": prefix,
    }.items():
        monkeypatch.setenv(name, value)
    endpoints = read_endpoints_from_path(ROOT / "bot" / "endpoints.prod.yml")
    store = LockStore.create(endpoints.lock_store)
    assert isinstance(store, AtomicRedisLockStore)
    assert store.key_prefix == f"{prefix}:lock:"
    assert store.red.connection_pool.connection_kwargs["db"] == REDIS_DB
    assert store.red.connection_pool.connection_kwargs["password"] is None
    number = store.issue_ticket(CONVERSATION)
    assert store.get_lock(CONVERSATION).tickets[0].number == number
    assert endpoints.tracker_store.url.endswith("?options=-csearch_path%3Drasa_tracker")


def test_an_unknown_option_is_refused():
    from rasa.utils.endpoints import EndpointConfig

    config = EndpointConfig(url=REDIS_HOST, type="x", port=REDIS_PORT, lock_timeout=3)
    with pytest.raises(ValueError, match="lock_timeout"):
        AtomicRedisLockStore(endpoint_config=config)
