"""Where the Rasa server's time goes, from a pyinstrument session (bench/profiled_rasa.py).

pyinstrument samples the main thread's stack every millisecond; each sample is a
call stack (outermost first) and the time it stands for. Each sample is put into
one plain-words area by the innermost frame that belongs to a known part of Rasa
(an NLU component, a policy, the tracker store, the action call, ...), so library
code underneath (TensorFlow, SQLAlchemy, aiohttp) counts for the part that called it.
Time in ``select`` is the event loop waiting for the network: the action server,
the exchange behind it, or the next request.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

IDENTIFIER_SEP = "\x00"
ATTRIBUTES_SEP = "\x01"
CLASS_MARKER = "c"
IDLE = "waiting for the network (event loop idle: action server, exchange, clients)"
OTHER = "other"


@dataclass(frozen=True)
class FrameInfo:
    function: str
    path: str
    line: int
    class_name: str | None

    @classmethod
    def parse(cls, info: str) -> FrameInfo:
        """pyinstrument's frame string: ``function\\x00path\\x00line`` + ``\\x01``-attributes."""
        identifier, *attributes = info.split(ATTRIBUTES_SEP)
        parts = identifier.split(IDENTIFIER_SEP)
        line = int(parts[2]) if len(parts) > 2 and parts[2].lstrip("-").isdigit() else 0
        class_name = next((a[1:] for a in attributes if a.startswith(CLASS_MARKER)), None)
        return cls(parts[0], parts[1] if len(parts) > 1 else "", line, class_name)

    @property
    def short_path(self) -> str:
        path = self.path.replace("\\", "/")
        for marker in ("site-packages/", "/lib/python3.10/", "/work/main/"):
            if marker in path:
                return path.split(marker, 1)[1]
        return path.rsplit("/", 3)[-1] if path.count("/") > 3 else path

    @property
    def name(self) -> str:
        owner = f"{self.class_name}." if self.class_name else ""
        return f"{owner}{self.function} ({self.short_path}:{self.line})"


# Rasa's modules by the component (or part) they hold, for plain-words names.
COMPONENTS = {
    "jieba_tokenizer": "JiebaTokenizer",
    "regex_featurizer": "RegexFeaturizer",
    "lexical_syntactic_featurizer": "LexicalSyntacticFeaturizer",
    "count_vectors_featurizer": "CountVectorsFeaturizer",
    "diet_classifier": "DIETClassifier",
    "fallback_classifier": "FallbackClassifier",
    "entity_synonyms": "EntitySynonymMapper",
    "response_selector": "ResponseSelector",
    "ted_policy": "TEDPolicy",
    "rule_policy": "RulePolicy",
    "memoization": "MemoizationPolicy",
    "unexpected_intent_policy": "UnexpecTEDIntentPolicy",
    "policy": "shared policy code",
    "ensemble": "policy ensemble (picks the winner)",
}


def _component(frame: FrameInfo) -> str:
    stem = frame.path.replace("\\", "/").rsplit("/", 1)[-1].removesuffix(".py")
    if stem in COMPONENTS:
        return COMPONENTS[stem]
    if frame.class_name and frame.class_name != "NoneType":
        return frame.class_name
    return stem


Rule = tuple[Callable[[FrameInfo], bool], Callable[[FrameInfo], str]]


def _path(pattern: str) -> Callable[[FrameInfo], bool]:
    compiled = re.compile(pattern)
    return lambda f: bool(compiled.search(f.path.replace("\\", "/")))


def idle(leaf: FrameInfo) -> bool:
    """The event loop waiting: in ``select`` (asyncio), or, under uvloop, whose loop
    has no Python frames, the sample ends in the frame that started the loop."""
    path = leaf.path.replace("\\", "/")
    return (
        (leaf.function in ("select", "poll", "epoll") and path.endswith("selectors.py"))
        or (leaf.function == "serve" and path.endswith("sanic/server/runners.py"))
        or leaf.function in ("run_forever", "Loop.run_forever")
    )


# First matching rule names a frame's area; the innermost named frame wins.
RULES: list[Rule] = [
    (
        lambda f: f.function == "_validate_action_result",
        lambda f: "checking the action server's reply against its JSON schema (jsonschema)",
    ),
    (
        _path(r"rasa/nlu/(tokenizers|featurizers|classifiers|extractors|selectors)/"),
        lambda f: f"NLU component {_component(f)}",
    ),
    (_path(r"/nluext/"), lambda f: f"NLU component {_component(f)} (ours, nluext)"),
    (_path(r"rasa/core/policies/"), lambda f: f"dialogue policy: {_component(f)}"),
    (
        _path(r"rasa/core/featurizers/"),
        lambda f: "dialogue policies: turning the tracker into features",
    ),
    (
        _path(r"rasa/core/tracker_store\.py|rasa_addons/tracker_store\.py"),
        lambda f: "tracker store (SQL: load and save the conversation)",
    ),
    (_path(r"rasa/core/lock_store\.py|rasa_addons/lock_store\.py"), lambda f: "lock store"),
    (
        _path(r"rasa/core/actions/action\.py|rasa/utils/endpoints\.py"),
        lambda f: "action server call (HTTP request and reply in Rasa)",
    ),
    (_path(r"rasa/core/actions/"), lambda f: "forms and built-in actions (Rasa)"),
    (
        _path(r"rasa_addons/channels\.py"),
        lambda f: "REST channel guard (action-server health check)",
    ),
    (_path(r"rasa/core/channels/"), lambda f: "REST channel"),
    (
        _path(
            r"rasa/shared/core/(trackers|events|domain|slots)\.py|rasa/shared/core/training_data/"
        ),
        lambda f: "conversation bookkeeping (tracker, events, domain)",
    ),
    (_path(r"rasa/core/(processor|agent)\.py"), lambda f: "message processor (Rasa, own code)"),
    (_path(r"rasa/engine/"), lambda f: "model graph runner (Rasa, own code)"),
    (_path(r"/sanic/|/sanic_routing/"), lambda f: "HTTP server (Sanic)"),
    (_path(r"/logging/|/structlog/|common/redact\.py"), lambda f: "logging"),
    (_path(r"/asyncio/|/uvloop/"), lambda f: "event loop (asyncio itself)"),
]


def area(stack: Sequence[str]) -> str:
    """The plain-words area of one sample (stack outermost first)."""
    if stack and idle(FrameInfo.parse(stack[-1])):
        return IDLE
    for info in reversed(stack):
        frame = FrameInfo.parse(info)
        for matches, label in RULES:
            if matches(frame):
                return label(frame)
    return OTHER


@dataclass
class Hotspots:
    total: float  # seconds of samples
    areas: list[tuple[str, float]]  # (area, seconds), largest first
    functions: list[tuple[str, float]]  # (function, inclusive seconds), largest first
    leaves: list[tuple[str, float]]  # (function, self seconds), largest first

    @property
    def busy(self) -> float:
        return self.total - dict(self.areas).get(IDLE, 0.0)


# Frames that stand for nearly everything (the CLI, the event loop, Sanic's request
# task) say nothing about where the time goes; own code of these packages does.
OWN_CODE = re.compile(r"(^|/)(rasa|rasa_addons|nluext|actions|common)/")


def analyse(records: Iterable[tuple[Sequence[str], float]], *, top: int = 15) -> Hotspots:
    """Areas, top functions by inclusive time (Rasa's and our code) and by self time."""
    areas: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    total = 0.0
    for stack, seconds in records:
        if not stack:
            continue
        total += seconds
        areas[area(stack)] += seconds
        frames = [FrameInfo.parse(info) for info in stack]
        leaves[frames[-1].name] += seconds
        for name in {f.name for f in frames if OWN_CODE.search(f.short_path)}:
            inclusive[name] += seconds
    # Wrappers that hold (almost) every busy sample tell nothing; drop them.
    busy = total - areas.get(IDLE, 0.0)
    functions = [(n, s) for n, s in inclusive.most_common() if busy and s < 0.9 * busy]
    return Hotspots(
        total=total,
        areas=areas.most_common(),
        functions=functions[:top],
        leaves=leaves.most_common(top),
    )


def load(path: str) -> Hotspots:
    from pyinstrument.session import Session

    session = Session.load(path)
    return analyse(session.frame_records)
