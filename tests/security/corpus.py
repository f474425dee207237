"""Hostile and odd input for the fuzz tests: fixed nasties plus seeded random text.

Deterministic (one seed) so a failure can be replayed; varied enough to reach
the parsers, the NLU, the forms and the storage with things real users and
attackers send: nothing, too much, control characters, emoji, injections, and
Rasa's own ``/intent{...}`` payload syntax with made-up entities.
"""

from __future__ import annotations

import json
import random

SEED = 20261123

NASTIES: list[str] = [
    "",
    " ",
    "\n\n\t",
    "\x00",
    "\x00\x01\x02\x03\x1b[31m\x7f",
    "\u200b\u200e\u202e\ufeff",
    "😀🙏🏻👴🏽🇨🇳" * 20,
    "𠀀𪚥𰻝" * 50,
    "我" * 10_000,
    "a" * 10_000,
    "1" * 10_000,
    "' OR '1'='1",
    "'; DROP TABLE events; --",
    '"; DELETE FROM applications WHERE "1"="1',
    "1; SELECT pg_sleep(10); --",
    "<script>alert(document.cookie)</script>",
    '<img src=x onerror="alert(1)">',
    "javascript:alert(1)",
    "{{7*7}}${7*7}<%= 7*7 %>",
    "../../../../etc/passwd",
    "%00%0d%0aSet-Cookie: x=1",
    "/restart",
    "/session_start",
    "/request_human",
    '/inform{"id_number": "110105194903120021", "person_name": "张桂芳"}',
    '/inform{"id_number": ' + '"9"' * 2000 + "}",
    '/renew_id_card{"city": "<script>"}',
    "/nlu_fallback",
    "/action_restart",
    '/greet{"a": {"b": {"c": {"d": [1, 2, [3, [4, [5]]]]}}}}',
    "/" + "x" * 5000,
    "/inform{not json",
    "null",
    "[]",
    "{}",
    "\\u0000\\ud800",
    "身份证号是１１０１０５１９４９０３１２００２１",
    "我的手机号是13800138001",
    "幺幺零幺零五幺九四九零三幺二零零二幺",
    "人工人工人工人工人工",
    "取消" * 300,
]

_ALPHABETS = [
    "的一是不了人我在有他这为之大来以个中上们",  # common Chinese
    "俺咋啥嘞哩呗噻莫得晓得搞么子",  # dialect particles
    "0123456789幺两洞叉Xx零一二三四五六七八九十",  # digits as people say them
    "省市区县街道社保医保养老身份证卡转移备案认证",  # service words
    "!@#$%^&*()_+-=[]{}|;':\",./<>?`~\\",  # punctuation
    "\x00\x01\x02\x07\x08\x0b\x0c\x0e\x1f\x7f\u2028\u2029",  # control and separators
    "😀😂🙏👍🏻🇨🇳🧓👵",  # emoji
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "\u0301\u0308\u20dd\u200d",  # combining marks, zero-width joiner
]


def random_text(rng: random.Random) -> str:
    """A string mixing a few alphabets, length skewed short with a long tail."""
    length = min(int(rng.expovariate(1 / 30)), 3000)
    pools = rng.sample(_ALPHABETS, rng.randint(1, 3))
    return "".join(rng.choice(rng.choice(pools)) for _ in range(length))


def messages(count: int, *, seed: int = SEED) -> list[str]:
    """``count`` messages: every nasty first, then random text."""
    rng = random.Random(seed)
    out = list(NASTIES[:count])
    while len(out) < count:
        out.append(random_text(rng))
    return out


def json_bodies(count: int, *, seed: int = SEED) -> list[bytes]:
    """Request bodies that are not what the API expects: broken, wrong, huge."""
    rng = random.Random(seed + 1)
    fixed = [
        b"",
        b"{",
        b"not json at all",
        b"\xff\xfe\xfd invalid utf-8",
        b'{"sender": "\xff\xfe", "text": "hi"}',
        b"[]",
        b"null",
        b'"a string"',
        b'{"sender": null, "text": null}',
        b'{"sender": 1, "text": 2}',
        b'{"sender": ["a"], "text": {"b": 1}}',
        b'{"sender": "' + b"s" * 100_000 + b'", "text": "x"}',
        b'{"text": "' + "我".encode() * 200_000 + b'"}',
        b"[" * 10_000 + b"]" * 10_000,
        b'{"a": ' * 5_000 + b"1" + b"}" * 5_000,
        b'{"sender": "ok", "text": "hi", "extra": "' + b"e" * 1_000_000 + b'"}',
    ]
    out = fixed[:count]
    keys = ["sender", "text", "message", "metadata", "rate", "purpose", "person_ref", "x"]
    while len(out) < count:
        body = {rng.choice(keys): rng.choice([random_text(rng), rng.randint(-(2**63), 2**63), None])
                for _ in range(rng.randint(0, 4))}  # fmt: skip
        raw = repr(body).encode("utf-8", "surrogatepass")
        # Half are Python reprs (not JSON), half real JSON of the wrong shape.
        if rng.random() < 0.5:
            raw = json.dumps(body, ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass")
        out.append(raw)
    return out
