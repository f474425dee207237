"""Fewer and quicker copies in Rasa's turn.

Two kinds of copying took about a tenth of the Rasa server's time under load
(bench/, pyinstrument):

* **Slots.** Every new conversation tracker copies each slot of the domain
  (``copy.copy``), and Rasa makes a new tracker many times per turn: to work out
  the conversation's states for each policy, and to run each action on a copy.
  With 46 slots that is a few thousand copies per turn, and ``copy.copy`` takes
  its slowest, most general path for them (``__reduce_ex__``, then rebuilding
  the object). ``Slot.__copy__`` now makes the very same shallow copy directly:
  a new object of the same class holding a copy of the same attributes. A slot
  class that customises pickling or copying keeps the general path.
* **Copies only for debug logs.** The processor and two policies deep-copy
  events and states only to hand them to a ``structlogger.debug(...)`` call,
  which does nothing unless Rasa logs at debug level, but the argument is made
  anyway. In those three modules ``copy.deepcopy`` now returns its argument as it
  is when debug logging is off; with debug on, it copies as before.
  tests/rasa_addons/test_copies.py checks that each ``copy.deepcopy`` in them is
  an argument of a ``structlogger.debug`` call, so a Rasa upgrade that uses it
  for anything else fails the test instead of sharing an object.
"""

from __future__ import annotations

import copy
import functools
import logging
from types import ModuleType
from typing import Any

import structlog
from rasa.core import processor
from rasa.core.policies import memoization, rule_policy
from rasa.shared.core.slots import Slot

# Modules whose only use of copy.deepcopy is for a structlogger.debug argument.
LOG_ONLY_COPIES: tuple[ModuleType, ...] = (processor, memoization, rule_policy)

# What a structlog filtering logger has for a level it drops.
_DROPPED = structlog.make_filtering_bound_logger(logging.CRITICAL).debug


@functools.cache
def _plain(cls: type) -> bool:
    """Whether ``copy.copy`` would copy an instance by its ``__dict__`` alone."""
    return (
        cls.__reduce_ex__ is object.__reduce_ex__
        and cls.__reduce__ is object.__reduce__
        and getattr(cls, "__getstate__", None) is getattr(object, "__getstate__", None)
        and not hasattr(cls, "__setstate__")
        # ABC declares empty __slots__; only slots that hold something need the general path.
        and not any(vars(base).get("__slots__") for base in cls.__mro__)
    )


def _copy_slot(slot: Slot) -> Slot:
    cls = type(slot)
    if not _plain(cls):
        # The general path copy.copy takes when there is no __copy__.
        return copy._reconstruct(slot, None, *slot.__reduce_ex__(4))  # type: ignore[attr-defined]
    new = cls.__new__(cls)
    new.__dict__ = slot.__dict__.copy()
    return new


def debug_logged() -> bool:
    """Whether structlog's debug calls log anything (Rasa configures it per run)."""
    return getattr(structlog.get_config()["wrapper_class"], "debug", None) is not _DROPPED


class _LogOnlyCopy:
    """The ``copy`` module, except that ``deepcopy`` does not copy when nothing is logged."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
        return copy.deepcopy(value, memo) if debug_logged() else value


def install() -> None:
    """Quick slot copies and no copies for dropped debug logs (idempotent)."""
    Slot.__copy__ = _copy_slot  # type: ignore[attr-defined]
    for module in LOG_ONLY_COPIES:
        module.copy = _LogOnlyCopy()  # type: ignore[attr-defined]
