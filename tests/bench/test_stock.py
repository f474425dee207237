"""The stock Rasa reference of the text benchmark, for real: trained, started, loaded."""

from __future__ import annotations

import asyncio
import random

import psutil
import pytest

from bench import stock, text

pytestmark = pytest.mark.slow


def test_the_reference_loads_nothing_of_this_project():
    for path in stock.BOT.rglob("*"):
        if path.is_file() and path.suffix in (".yml", ".py"):
            assert "rasa_addons" not in path.read_text(encoding="utf-8"), path
            assert "nluext" not in path.read_text(encoding="utf-8"), path
    names = [c["name"] for c in stock.config()["pipeline"] + stock.config()["policies"]]
    assert all("." not in name for name in names)  # Rasa's own components only


def test_the_stock_reference_answers_every_scripted_turn(tmp_path):
    with stock.stock_stack(tmp_path) as stack:
        processes = [psutil.Process(pid) for pid in stack.processes.values()]
        command = " ".join(processes[-1].cmdline())
        assert str(stock.BOT / "endpoints.yml") in command
        assert str(stock.BOT / "credentials.yml") in command
        warm = asyncio.run(text.warm_up(stack.rasa_url, stock.MIX))
        (level,) = text.measure(stack.rasa_url, [2], 3.0, mix=stock.MIX)
    assert warm.error_count == 0 and level.error_count == 0
    assert level.conversations >= 2 and level.not_as_scripted == 0
    expected = {turn.step for turn in stock.conversation(random.Random(0)).turns}
    assert set(level.by_step()) == expected
    for process in processes:  # stopped with the stack
        assert not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
