"""The stock Rasa reference that the text benchmark measures in the same run.

Issue #9 puts its targets next to "a stock single-process Rasa 3.6 with a minimal
Chinese bot and trivial actions". Measured on the same machine in the same run as
our stacks, that reference says how much of a turn's cost is Rasa's own, whatever
the bot: the floor under any profile built on Rasa here.

The reference is bench/stock_bot/ (three intents, two responses, one custom action
that only says a sentence), trained with Rasa's suggested config for Chinese
(bench/nlu_baseline.py's, policies kept) and run the stock way: ``rasa run`` with
Rasa's own REST channel and its in-memory tracker and lock stores, and a plain
rasa-sdk action server. Nothing of this project is loaded into either process.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from bench import common, nlu_baseline
from bench import train as bench_train
from bench.stack import Stack
from tests.support.processes import PYTHON, Service, free_port

if TYPE_CHECKING:
    from bench.text import Script

BOT = common.ROOT / "bench" / "stock_bot"
RASA = str(Path(PYTHON).with_name("rasa"))


def config() -> dict:
    """Rasa's suggested config (``rasa init``'s) with JiebaTokenizer, policies as they are."""
    return nlu_baseline.baseline_config(keep_policies=True)


def train(work: Path) -> Path:
    """The reference model, trained into ``work`` (about a minute on 2 cores)."""
    work.mkdir(parents=True, exist_ok=True)
    config_file = work / "stock-config.yml"
    config_file.write_text(yaml.safe_dump(config(), allow_unicode=True), encoding="utf-8")
    out = work / "stock"
    command = [
        RASA, "train", "--config", str(config_file), "--domain", str(BOT / "domain.yml"),
        "--data", str(BOT / "data"), "--out", str(out), "--fixed-model-name", "stock",
    ]  # fmt: skip
    common.say("training the stock Rasa reference bot (bench/stock_bot)")
    return bench_train.timed("stock reference", command, work, out / "stock.tar.gz").model


def conversation(rng: random.Random) -> Script:
    from bench.text import Script, Turn  # bench.text imports this module

    return Script(
        "stock_reference",
        (
            Turn("stock: greeting (response)", rng.choice(("你好", "您好"))),
            Turn(
                "stock: office hours (custom action)",
                rng.choice(("办事大厅几点开门", "你们几点下班")),
            ),
            Turn("stock: goodbye (response)", rng.choice(("再见", "好的再见")), expect="再见"),
        ),
    )


# Mix of conversations for the load generator: (weight, maker).
MIX = ((1, conversation),)


@contextmanager
def stock_stack(work: Path) -> Iterator[Stack]:
    """The reference bot's Rasa and action server on free ports, always stopped."""
    model = train(work)
    rasa_port, actions_port = free_port(), free_port()
    env = {
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "ACTION_SERVER_URL": f"http://127.0.0.1:{actions_port}/webhook",
        # Only the reference bot's own modules: none of this project's Rasa add-ons.
        "PYTHONPATH": str(common.ROOT),
        "RASA_CACHE_DIRECTORY": str(work / "stock-cache"),
    }
    services = {
        "actions": Service(
            "bench-stock-actions",
            [PYTHON, "-m", "rasa_sdk", "--actions", "bench.stock_bot.actions",
             "--port", str(actions_port)],
            actions_port, env=env,
        ),
        "rasa": Service(
            "bench-stock-rasa",
            [RASA, "run", "--model", str(model), "--interface", "127.0.0.1",
             "--port", str(rasa_port), "--endpoints", str(BOT / "endpoints.yml"),
             "--credentials", str(BOT / "credentials.yml")],
            rasa_port, env=env, health_path="/", startup_timeout=300,
        ),
    }  # fmt: skip
    with ExitStack() as running:
        for service in services.values():
            running.enter_context(service)
        yield Stack(
            rasa_url=f"http://127.0.0.1:{rasa_port}",
            token="",
            description=(
                "stock Rasa 3.6 reference (bench/stock_bot): one `rasa run` with Rasa's own "
                "REST channel and in-memory tracker and lock stores, Rasa's suggested config "
                "with JiebaTokenizer and its default policies, one plain rasa-sdk action "
                "server; 3 intents, 2 responses, 1 custom action that only says a sentence"
            ),
            env={**os.environ, **env},
            processes={name: s.process.pid for name, s in services.items() if s.process},
        )
