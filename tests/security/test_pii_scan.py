"""After a full scripted run, no log file and no stored conversation holds a full ID
number or phone number, and no log holds a citizen's name (PIPL).

The stack here is our own, started with ``LOG_LEVEL=DEBUG`` everywhere (Rasa
included): the level an on-call engineer turns on when something is wrong is
exactly when a leak would happen. Citizens give their ID numbers in digits, as
spoken digits, with spaces, and say their full mobile number unprompted; one
conversation goes through the gateway (the web widget's API), one is handed
over to a person.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from common import idcard
from common.redact import PHONE_IN_TEXT
from scripts import stack
from tests.e2e.conftest import CITIZENS, Chat
from tests.support.processes import PYTHON, ROOT, Service, free_port
from tests.support.prodstack import rasa_server_command
from tests.voice.conftest import gateway_service

pytestmark = pytest.mark.slow

DEMO_PHONES = [f"1380013800{i}" for i in range(1, 7)]
SPOKEN = str.maketrans("0123456789X", "洞幺两三四五六七八九叉")


@pytest.fixture(scope="module")
def debug_stack(tmp_path_factory: pytest.TempPathFactory, trained_model: Path) -> Iterator[dict]:
    var = tmp_path_factory.mktemp("pii-var")
    ports = {name: free_port() for name in stack.DEFAULT_PORTS}
    env = {**stack.environment({}, ports=ports, var_dir=var), "LOG_LEVEL": "DEBUG"}
    subprocess.run(
        [PYTHON, "-m", "exchange", "seed", str(ROOT / "data/demo/citizens.yml")],
        cwd=ROOT, env=env, check=True, capture_output=True,
    )  # fmt: skip
    rasa_args = [
        *rasa_server_command(model=trained_model, token=env["RASA_TOKEN"], port=env["RASA_PORT"]),
        "--debug",
    ]  # fmt: skip
    services = [
        Service("pii-exchange", [PYTHON, "-m", "exchange", "serve"],
                int(env["EXCHANGE_PORT"]), env=env),
        Service("pii-actions", [PYTHON, "-m", "actions"], int(env["ACTIONS_PORT"]), env=env),
        Service("pii-rasa", rasa_args, int(env["RASA_PORT"]), env=env, health_path="/",
                startup_timeout=240),
    ]  # fmt: skip
    started: list[Service] = []
    try:
        for service in services:
            started.append(service.start())
        gateway = gateway_service(
            "pii-gateway", model=None, rasa_url=env["RASA_URL"], token=env["RASA_TOKEN"],
            LOG_LEVEL="DEBUG",
        )  # fmt: skip
        started.append(gateway.start())
        yield {"env": env, "services": started, "gateway": gateway}
    finally:
        for service in reversed(started):
            service.stop()


def _scripted_run(env: dict[str, str], gateway: Service) -> None:
    def chat() -> Chat:
        return Chat(env["RASA_URL"], env["RASA_TOKEN"])

    # Digits, with the phone number said in full.
    one = chat()
    one.say("我要换身份证")
    one.verify("张桂芳")
    one.say("我手机号是13800138001，你记一下")
    # Spoken digits with pauses, then a handover with the summary.
    two = chat()
    two.say("我想办养老金认证")
    two.say("我叫陈德明")
    number = CITIZENS["陈德明"][0]
    two.say(" ".join([number[:6], number[6:14], number[14:]]).translate(SPOKEN))
    two.say("转人工")
    # A whole service to the end.
    three = chat()
    three.say("我的社保卡丢了")
    three.verify("李建国")
    three.say("对")
    # The same through the gateway (the web widget's API).
    with httpx.Client(base_url=gateway.url, timeout=60) as web:
        for text in ["查一下养老金", "我叫王秀英", CITIZENS["王秀英"][0], "8006",
                     "我的身份证是320102195507220041，电话13800138006"]:  # fmt: skip
            sender = "pii-web-1-4e7b9c2d1f0a8e6b3c5d7f9a1b2c4e6d"  # web senders must be unguessable
            response = web.post("/v1/chat", json={"sender": sender, "text": text})
            assert response.status_code == 200, response.text


# Values that are no one's data can hold eleven digits in a row that look like a mobile
# number by chance (a CI run once found "14030861306" in the stored events): Rasa's
# message ids and the test senders' random ids (hex), and decimals (timestamps,
# confidences). They are blanked before the search; user text never takes these shapes.
NOT_DATA = re.compile(r"(?<![0-9a-f])(?:[0-9a-f]{32}|e2e-[0-9a-f]{12})(?![0-9a-f])|\d+\.\d+")


def _leaks(text: str, names: list[str]) -> list[str]:
    text = NOT_DATA.sub("<not data>", text)
    found = [m for m in idcard.ID_NUMBER_IN_TEXT.findall(text) if idcard.is_valid(m)]
    found += [n for n in CITIZENS_NUMBERS if n in text]
    found += PHONE_IN_TEXT.findall(text)
    found += [p for p in DEMO_PHONES if p in text]
    # Names also as JSON escapes (\\u5f20...), the way Rasa logs events.
    found += [n for n in names if n in text or n.encode("unicode_escape").decode() in text]
    return found


CITIZENS_NUMBERS = [number for number, _ in CITIZENS.values()]


def test_no_personal_information_in_logs_or_the_tracker_store(debug_stack: dict) -> None:
    env, services = debug_stack["env"], debug_stack["services"]
    _scripted_run(env, debug_stack["gateway"])
    for service in services:
        service.stop()  # flush and close every log

    logs = {s.name: s.log_path.read_text("utf-8", "replace") for s in services if s.log_path}
    assert set(logs) == {"pii-exchange", "pii-actions", "pii-rasa", "pii-gateway"}
    # The logs are real debug logs of this run, not empty files.
    assert re.search(r"DEBUG", logs["pii-rasa"]) and "action_" in logs["pii-rasa"]
    names = list(CITIZENS)
    leaks = {name: _leaks(text, names) for name, text in logs.items()}
    assert not any(leaks.values()), {k: v[:5] for k, v in leaks.items() if v}

    tracker_db = Path(env["TRACKER_URL"].removeprefix("sqlite:///"))
    with sqlite3.connect(tracker_db) as db:
        rows = [r[0] for r in db.execute("select data from events")]
    assert len(rows) > 50
    stored = "\n".join(rows)
    # Names may be kept masked (张**); numbers never in full.
    leaks = _leaks(stored, [])
    assert not leaks, leaks[:5]


def test_random_ids_and_decimals_are_not_taken_for_phone_numbers() -> None:
    lookalikes = [
        '"message_id": "a9f14030861306bcd0e1f2a3b4c5d6e7"',  # 32 hex digits
        "sender e2e-14030861306f",
        '"timestamp": 1765101403.0861306, "confidence": 0.14030861306',
    ]
    assert [_leaks(text, []) for text in lookalikes] == [[], [], []]
    # The same digits as data are still found, next to ids or escaped Chinese too.
    said = '"text": "\\u7535\\u8bdd13800138001", "message_id": "a9f14030861306bcd0e1f2a3b4c5d6e7"'
    assert _leaks(said, []) == ["13800138001", "13800138001"]  # the pattern and the demo list
    assert _leaks("电话14030861306。", []) == ["14030861306"]
