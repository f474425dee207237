"""A Redis lock store that is safe when several Rasa replicas share one Redis.

Rasa keeps one ticket lock per conversation so that its messages are handled one
at a time, in arrival order, even when they reach different replicas. Rasa 3.6's
``RedisLockStore`` stores the lock as one JSON value and changes it with a plain
GET, an in-memory change and a SET (``issue_ticket``, ``update_lock``,
``finish_serving``, ``cleanup``). Two replicas doing that at the same moment
overwrite each other (RasaHQ/rasa#9213; the fix, #11256, was reverted and only
shipped in Rasa Pro as ``ConcurrentRedisLockStore``):

* both read "no tickets" and both take ticket 0, so both handle the conversation
  at once; the second tracker save then stores only the events past the count the
  first one wrote, and the other message's events are lost or mixed up;
* one replica removes its finished ticket while another adds a ticket: the new
  ticket is overwritten, the lock deleted, and the waiting message fails with
  ``LockError``.

This subclass keeps Rasa's lock format and its waiting loop, and makes every
change to a lock one Redis transaction (WATCH/MULTI/EXEC through redis-py's
``Redis.transaction``, which retries when another replica changed the lock in
between). Ticket numbers come from an INCR counter, so a number is never given
twice, even after a lock expired and was deleted (a late ``cleanup`` by a slow
holder cannot remove a newer holder's ticket). The lock key expires with its last
ticket, so a crashed replica leaves nothing behind. Waiting replicas look again
every ``poll_interval`` seconds (Rasa waits a fixed second), so a second message
for the same conversation is answered right after the first.

Use it in bot/endpoints.prod.yml:

    lock_store:
      type: rasa_addons.lock_store.AtomicRedisLockStore
      url: ${REDIS_HOST}
      port: ${REDIS_PORT}
      db: ${REDIS_DB}
      password: ${REDIS_PASSWORD}
      key_prefix: ${LOCK_KEY_PREFIX}
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Callable
from typing import Any

from rasa.core.lock import Ticket, TicketLock
from rasa.core.lock_store import (
    DEFAULT_REDIS_LOCK_STORE_KEY_PREFIX,
    LOCK_LIFETIME,
    LockError,
    RedisLockStore,
)
from rasa.utils.endpoints import EndpointConfig
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

DEFAULT_POLL_INTERVAL = 0.1
# Options of RedisLockStore.__init__ that may come from the endpoint configuration.
REDIS_OPTIONS = frozenset(
    {
        "port", "db", "username", "password", "use_ssl", "ssl_certfile", "ssl_keyfile",
        "ssl_ca_certs", "key_prefix", "socket_timeout",
    }
)  # fmt: skip


class AtomicRedisLockStore(RedisLockStore):
    """``RedisLockStore`` whose lock changes are atomic across replicas."""

    def __init__(
        self,
        endpoint_config: EndpointConfig | None = None,
        *,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        **kwargs: Any,
    ) -> None:
        # Rasa builds custom lock stores as `cls(endpoint_config=...)`; tests pass keywords.
        if endpoint_config is not None:
            options = dict(endpoint_config.kwargs)
            poll_interval = float(options.pop("poll_interval", poll_interval))
            if unknown := set(options) - REDIS_OPTIONS:
                raise ValueError(f"unknown lock_store options: {', '.join(sorted(unknown))}")
            kwargs = {"host": endpoint_config.url or "localhost", **options, **kwargs}
        if kwargs.get("password") == "":
            kwargs["password"] = None  # an empty ${REDIS_PASSWORD} means "no password"
        super().__init__(**kwargs)
        if poll_interval <= 0:
            raise ValueError("poll_interval must be positive")
        self.poll_interval = poll_interval
        # Outside the "...lock:" namespace, so no conversation id can clash with it.
        namespace = self.key_prefix.removesuffix(DEFAULT_REDIS_LOCK_STORE_KEY_PREFIX)
        self.counter_key = f"{namespace}ticket_counter"

    def _key(self, conversation_id: str) -> str:
        return self.key_prefix + conversation_id

    def _change(
        self, conversation_id: str, change: Callable[[TicketLock | None], TicketLock | None]
    ) -> None:
        """Read the lock, let ``change`` return its new state, write that back: atomically.

        ``change`` gets the stored lock (``None`` if there is none) and may run more
        than once: redis-py repeats the step when another replica wrote or created the
        lock between our read (under WATCH) and our write (MULTI/EXEC). A lock
        without live tickets is deleted.
        """
        key = self._key(conversation_id)

        def attempt(pipe: Any) -> None:
            raw = pipe.get(key)  # runs at once: the pipeline is WATCHing the key
            lock = change(TicketLock.from_dict(json.loads(raw)) if raw else None)
            if lock is not None:
                lock.remove_expired_tickets()
            pipe.multi()
            if lock is not None and lock.tickets:
                # The key goes away with its last ticket: a crashed replica leaves nothing.
                last_expiry = max(ticket.expires for ticket in lock.tickets)
                ttl_ms = math.ceil((last_expiry - time.time()) * 1000) + 1000
                pipe.set(key, lock.dumps(), px=max(ttl_ms, 1000))
            elif raw is not None:
                pipe.delete(key)

        self.red.transaction(attempt, key)

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        """Append a new ticket to the conversation's lock; returns its number."""
        logger.debug("Issuing ticket for conversation '%s'.", conversation_id)
        try:
            number = int(self.red.incr(self.counter_key))

            def append(lock: TicketLock | None) -> TicketLock:
                lock = lock or self.create_lock(conversation_id)
                lock.tickets.append(Ticket(number, time.time() + lock_lifetime))
                return lock

            self._change(conversation_id, append)
            return number
        except (RedisError, ValueError) as exc:  # LockStore.issue_ticket's contract
            raise LockError(f"Error while acquiring lock. Error:\n{exc}") from exc

    def update_lock(self, conversation_id: str) -> None:
        """Drop expired tickets (an empty lock is deleted)."""
        self._change(conversation_id, lambda lock: lock)

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        """Remove this ticket: the next one in line is served."""

        def remove(lock: TicketLock | None) -> TicketLock | None:
            if lock is not None:
                lock.remove_ticket_for(ticket_number)
            return lock

        self._change(conversation_id, remove)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Remove this ticket, and the lock with it when nobody waits: in one step.

        Rasa's version removes the ticket, then asks whether anyone waits, then
        deletes the lock, and a ticket issued in between is deleted with it.
        """
        self.finish_serving(conversation_id, ticket_number)

    async def _acquire_lock(
        self, conversation_id: str, ticket: int, wait_time_in_seconds: float
    ) -> TicketLock:
        """Wait until ``ticket`` is first in line, checking every ``poll_interval``."""
        interval = min(wait_time_in_seconds, self.poll_interval)
        while True:
            lock = self.get_lock(conversation_id)
            if lock is None or not any(t.number == ticket for t in lock.tickets):
                # Expired while waiting (the holder took longer than the lock lifetime).
                raise LockError(f"Could not acquire lock for conversation_id '{conversation_id}'.")
            if not lock.is_locked(ticket):
                logger.debug("Acquired lock for conversation '%s'.", conversation_id)
                return lock
            await asyncio.sleep(interval)
            self.update_lock(conversation_id)
