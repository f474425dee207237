"""Compare two NLU reports, in plain words for trainers (`make nlu-report`).

`make nlu-report` keeps a small snapshot of each run in reports/nlu/summary.json
(the run before it moves to summary.previous.json). This module turns the full
results of a run into that snapshot (``summarize``), compares two snapshots
(``compare``) and writes the comparison for the report and the terminal.

Everything here is pure: no Rasa, no files, so it is unit-tested with small
fake reports. A sentence is identified by its text.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

SNAPSHOT_VERSION = 1
FALLBACK = "nlu_fallback"
SUBSET_LABELS = {"plain": "普通话", "dialect": "方言", "asr": "语音识别转的字"}

# Smaller moves than these are noise, not a change worth telling a trainer about.
# Held-out accuracy counts whole sentences, so any move there is real.
# Rasa draws new CV groups on every run: with unchanged data, overall CV accuracy
# moved 0.3 points and per-intent CV F1 up to 4.8 points between two runs.
NOISE = {"cv": 0.005, "heldout_intent_f1": 0.0, "cv_intent_f1": 0.05, "entity_f1": 0.0}
UNCHANGED_INTENTS = "（测试集的 F1 一点没变；交叉验证相差不到 5 个百分点，是随机分组带来的波动。）"
# Lists of sentences in the report are cut here; the rest are counted.
MAX_SENTENCES = 30

# Verdicts, for the report and the terminal.
BETTER, WORSE, MIXED, SAME, FIRST = "better", "worse", "mixed", "same", "first"
VERDICT_TEXT = {
    BETTER: "变好了",
    WORSE: "变差了",
    MIXED: "有的变好、有的变差",
    SAME: "差不多，没有明显变化",
    FIRST: "这是第一份报告，下次会和它比较",
}


# ---------------------------------------------------------------- snapshot


def intent_f1(items: Iterable[dict[str, Any]]) -> dict[str, float]:
    """F1 per expected intent from (expected, predicted) items.

    A sentence that fell back (nlu_fallback) is a miss for its intent, as it is
    in the accuracy; nlu_fallback itself gets no row.
    """
    counts: dict[str, Counter] = defaultdict(Counter)
    for item in items:
        gold, predicted = item["intent"], item["predicted"]
        if gold == predicted:
            counts[gold]["tp"] += 1
            continue
        counts[gold]["fn"] += 1
        if predicted != FALLBACK:
            counts[predicted]["fp"] += 1
    scores = {}
    for intent, c in sorted(counts.items()):
        precision = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 0.0
        recall = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 0.0
        scores[intent] = (
            2 * precision * recall / (precision + recall) if precision + recall else 0.0
        )
    return scores


def summarize(results: dict[str, Any], *, cv_passed: Iterable[str] = ()) -> dict[str, Any]:
    """The snapshot of one run kept for the next comparison.

    ``results`` is what scripts/nlu_report.py writes to results.json, with
    ``heldout.items`` (every held-out sentence) and, when CV ran, ``cv.errors``;
    ``cv_passed`` are the texts CV got right.
    """
    held = results["heldout"]
    items = [
        {
            "text": i["text"],
            "intent": i["intent"],
            "predicted": i["predicted"],
            "raw": i.get("raw", i["predicted"]),
            "confidence": round(float(i.get("confidence", 0.0)), 3),
            "ok": i["predicted"] == i["intent"],
        }
        for i in held["items"]
    ]
    snapshot: dict[str, Any] = {
        "version": SNAPSHOT_VERSION,
        "date": results.get("date", ""),
        "heldout": {
            "n": held["n"],
            "accuracy": held["accuracy"],
            "subsets": {s: v["accuracy"] for s, v in held["subsets"].items()},
            "wrong_service": held["wrong_service"],
            "fallbacks": held["fallbacks"],
            "intent_f1": intent_f1(items),
            "entity_f1": {e: s["f1"] for e, s in held["entities"].items()},
            "items": items,
            "entity_errors": [
                {"text": e["text"], "gold": e["gold"], "predicted": e["predicted"]}
                for e in held["entity_errors"]
            ],
        },
        "unclear_as_service": results.get("unclear", {}).get("as_service"),
        "cv": None,
    }
    if results.get("cv"):
        cv = results["cv"]
        snapshot["cv"] = {
            "folds": cv["folds"],
            "accuracy": cv["accuracy"],
            "macro_f1": cv["macro_f1"],
            "intent_f1": {i: s["f1-score"] for i, s in cv["per_intent"].items()},
            "errors": [
                {
                    "text": e["text"],
                    "intent": e["intent"],
                    "predicted": e["predicted"],
                    "confidence": round(float(e["confidence"]), 3),
                }
                for e in cv.get("errors", [])
            ],
            "passed": sorted(set(cv_passed)),
        }
    return snapshot


# ---------------------------------------------------------------- comparison


@dataclass
class Change:
    """One number before and after. ``before`` is None when it was not measured."""

    key: str
    label: str
    before: float | None
    after: float | None
    higher_is_better: bool = True
    noise: float = 0.0
    percent: bool = True

    @property
    def delta(self) -> float | None:
        if self.before is None or self.after is None:
            return None
        return self.after - self.before

    @property
    def direction(self) -> int:
        """+1 better, -1 worse, 0 no real change (or not comparable)."""
        delta = self.delta
        if delta is None or abs(delta) <= self.noise + 1e-9:
            return 0
        return 1 if (delta > 0) == self.higher_is_better else -1


@dataclass
class Sentence:
    text: str
    intent: str
    predicted: str  # what the assistant understood (nlu_fallback: asked again)
    raw: str  # its best guess, even when it asked again
    confidence: float
    source: str  # "heldout" or "cv"


@dataclass
class Diff:
    previous_date: str
    current_date: str
    overall: list[Change] = field(default_factory=list)
    intents: list[Change] = field(default_factory=list)  # key: "<source>:<intent>"
    entities: list[Change] = field(default_factory=list)
    newly_failing: list[Sentence] = field(default_factory=list)
    newly_passing: list[Sentence] = field(default_factory=list)
    new_sentences: int = 0  # held-out sentences that were not tested last time
    new_sentences_failing: list[Sentence] = field(default_factory=list)
    entities_newly_wrong: list[str] = field(default_factory=list)
    entities_newly_right: list[str] = field(default_factory=list)
    cv_compared: bool = False

    @property
    def verdict(self) -> str:
        signals = [c.direction for c in self.overall + self.entities]
        ups, downs = signals.count(1), signals.count(-1)
        if ups and downs:
            return MIXED
        if ups:
            return BETTER
        if downs:
            return WORSE
        return SAME


def _sentence(item: dict[str, Any], source: str) -> Sentence:
    return Sentence(
        text=item["text"],
        intent=item["intent"],
        predicted=item["predicted"],
        raw=item.get("raw", item["predicted"]),
        confidence=float(item.get("confidence", 0.0)),
        source=source,
    )


def _changes(
    before: dict[str, float], after: dict[str, float], *, prefix: str, label: str, noise: float
) -> list[Change]:
    return [
        Change(f"{prefix}:{name}", label, before.get(name), after.get(name), noise=noise)
        for name in sorted(set(before) | set(after))
    ]


def compare(previous: dict[str, Any] | None, current: dict[str, Any]) -> Diff | None:
    """What changed between two snapshots; None when there is no previous one."""
    if not previous:
        return None
    old_h, new_h = previous["heldout"], current["heldout"]
    old_cv, new_cv = previous.get("cv"), current.get("cv")
    diff = Diff(previous_date=previous.get("date", ""), current_date=current.get("date", ""))

    diff.overall.append(Change("heldout", "测试集准确率", old_h["accuracy"], new_h["accuracy"]))
    for subset, label in SUBSET_LABELS.items():
        diff.overall.append(
            Change(
                f"heldout:{subset}",
                f"测试集准确率（{label}）",
                old_h["subsets"].get(subset),
                new_h["subsets"].get(subset),
            )
        )
    if old_cv and new_cv:
        diff.cv_compared = True
        diff.overall += [
            Change("cv", "交叉验证准确率", old_cv["accuracy"], new_cv["accuracy"],
                   noise=NOISE["cv"]),
            Change("cv:macro_f1", "交叉验证平均 F1", old_cv["macro_f1"], new_cv["macro_f1"],
                   noise=NOISE["cv"]),
        ]  # fmt: skip
    diff.overall += [
        Change("wrong_service", "测试集里答成别的业务（句）", old_h["wrong_service"],
               new_h["wrong_service"], higher_is_better=False, percent=False),
        Change("fallbacks", "测试集里没听懂、请对方再说（句）", old_h["fallbacks"],
               new_h["fallbacks"], higher_is_better=False, percent=False),
    ]  # fmt: skip
    if (
        previous.get("unclear_as_service") is not None
        and current.get("unclear_as_service") is not None
    ):
        diff.overall.append(
            Change("unclear_as_service", "杂音、半句话被当成业务（句）",
                   previous["unclear_as_service"], current["unclear_as_service"],
                   higher_is_better=False, percent=False)
        )  # fmt: skip

    diff.intents = _changes(
        old_h["intent_f1"], new_h["intent_f1"], prefix="heldout", label="测试集 F1",
        noise=NOISE["heldout_intent_f1"],
    )  # fmt: skip
    if diff.cv_compared:
        diff.intents += _changes(
            old_cv["intent_f1"], new_cv["intent_f1"], prefix="cv", label="交叉验证 F1",
            noise=NOISE["cv_intent_f1"],
        )  # fmt: skip
    diff.entities = _changes(
        old_h["entity_f1"], new_h["entity_f1"], prefix="entity", label="信息提取 F1",
        noise=NOISE["entity_f1"],
    )  # fmt: skip

    # Held-out sentences: the same test sentences, right last time and wrong now, or back.
    before = {i["text"]: i for i in old_h["items"]}
    for item in new_h["items"]:
        old = before.get(item["text"])
        if old is None:
            diff.new_sentences += 1
            if not item["ok"]:
                diff.new_sentences_failing.append(_sentence(item, "heldout"))
        elif old["ok"] and not item["ok"]:
            diff.newly_failing.append(_sentence(item, "heldout"))
        elif not old["ok"] and item["ok"]:
            diff.newly_passing.append(_sentence({**old, **item}, "heldout"))

    # CV: training sentences, each predicted by a model that did not see it.
    if diff.cv_compared:
        old_errors = {e["text"]: e for e in old_cv["errors"]}
        new_errors = {e["text"]: e for e in new_cv["errors"]}
        old_passed, new_passed = set(old_cv["passed"]), set(new_cv["passed"])
        for text, error in new_errors.items():
            if text in old_passed:
                diff.newly_failing.append(_sentence({**error, "raw": error["predicted"]}, "cv"))
        for text, error in old_errors.items():
            if text in new_passed:
                diff.newly_passing.append(_sentence({**error, "raw": error["predicted"]}, "cv"))

    tested_before = set(before)
    old_entity = {e["text"] for e in old_h["entity_errors"]}
    new_entity = {e["text"] for e in new_h["entity_errors"]}
    diff.entities_newly_wrong = sorted(t for t in new_entity - old_entity if t in tested_before)
    current_texts = {i["text"] for i in new_h["items"]}
    diff.entities_newly_right = sorted(t for t in old_entity - new_entity if t in current_texts)
    return diff


# ---------------------------------------------------------------- words


def _value(x: float | None, percent: bool) -> str:
    if x is None:
        return "—"
    return f"{100 * x:.1f}%" if percent else f"{x:g}"


def arrow(change: Change) -> str:
    """↑ better, ↓ worse (for counts where fewer is better, ↓ means more of them)."""
    delta = change.delta
    if delta is None:
        return "新加" if change.before is None else "没有了"
    if change.direction == 0:
        return "＝"
    amount = f"{100 * abs(delta):.1f} 个百分点" if change.percent else f"{abs(delta):g} 句"
    sign = "+" if delta > 0 else "−"
    mark = "↑" if change.direction > 0 else "↓"
    return f"{mark} {sign}{amount}"


def _label(intent: str, labels: dict[str, str]) -> str:
    name = labels.get(intent)
    return f"{intent}（{name}）" if name else intent


def _understood(s: Sentence, labels: dict[str, str]) -> str:
    if s.predicted == FALLBACK:
        return f"没听懂、请对方再说（最像 {_label(s.raw, labels)}，把握 {s.confidence:.0%}）"
    return f"{_label(s.predicted, labels)}，把握 {s.confidence:.0%}"


SOURCE_TEXT = {"heldout": "测试集", "cv": "交叉验证"}
# Rasa draws the cross-validation groups at random on every run, so single
# training sentences flip by chance even when nothing changed.
CV_NOTE = (
    "交叉验证每次分组都是随机的，所以就算什么都没改，也会有一些句子这次对、上次错（或者反过来）；"
    "要看的是同一个意图里一下子错了很多句，而不是某一句。"
)


def cell(text: str) -> str:
    """A sentence as a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def _sentence_table(sentences: list[Sentence], labels: dict[str, str]) -> list[str]:
    rows = ["| 句子 | 来源 | 应该是 | 听成了 |", "| --- | --- | --- | --- |"]
    for s in sentences[:MAX_SENTENCES]:
        rows.append(
            f"| {cell(s.text)} | {SOURCE_TEXT[s.source]} | {_label(s.intent, labels)} "
            f"| {_understood(s, labels)} |"
        )
    if len(sentences) > MAX_SENTENCES:
        rows.append(f"| 还有 {len(sentences) - MAX_SENTENCES} 句没有列出 | | | |")
    return rows


def markdown(diff: Diff | None, labels: dict[str, str] | None = None) -> list[str]:
    """The section "和上次相比" of reports/nlu/README.md."""
    labels = labels or {}
    lines = ["## 和上次相比 (Compared with the last report)", ""]
    if diff is None:
        return [*lines, f"{VERDICT_TEXT[FIRST]}。", ""]
    lines += [
        f"上次：{diff.previous_date}；这次：{diff.current_date}。"
        f"总的来说：**{VERDICT_TEXT[diff.verdict]}**。",
        "",
        "怎么看：↑ 是变好，↓ 是变差，＝ 是没有明显变化。“测试集”是专门留出来、从来不拿来训练的"
        "句子，最能说明真实水平；“交叉验证”是把训练句子分成几份轮流考，数字会有一点点随机波动。",
        "",
        "### 总体 (Overall)",
        "",
        "| 指标 | 上次 | 这次 | 变化 |",
        "| --- | --- | --- | --- |",
    ]
    for c in diff.overall:
        lines.append(
            f"| {c.label} | {_value(c.before, c.percent)} | {_value(c.after, c.percent)} "
            f"| {arrow(c)} |"
        )
    if not diff.cv_compared:
        lines.append("| 交叉验证 | | | 这次或上次没有做，不比较 |")

    moved = sorted(
        (c for c in diff.intents if c.direction != 0 or c.delta is None),
        key=lambda c: (c.direction if c.delta is not None else 2, -abs(c.delta or 0)),
    )
    lines += ["", "### 每个意图 (Per intent, F1)", ""]
    if moved:
        lines += ["| 意图 | 哪一项 | 上次 | 这次 | 变化 |", "| --- | --- | --- | --- | --- |"]
        for c in moved:
            intent = c.key.split(":", 1)[1]
            lines.append(
                f"| {_label(intent, labels)} | {c.label} | {_value(c.before, True)} "
                f"| {_value(c.after, True)} | {arrow(c)} |"
            )
        lines += ["", f"没有列出的意图没有明显变化。{UNCHANGED_INTENTS}"]
    else:
        lines.append(f"每个意图都没有明显变化。{UNCHANGED_INTENTS}")

    lines += ["", "### 找信息（地点、号码等） (Entities, F1)", ""]
    lines += ["| 信息 | 上次 | 这次 | 变化 |", "| --- | --- | --- | --- |"]
    for c in diff.entities:
        entity = c.key.split(":", 1)[1]
        lines.append(
            f"| {entity} | {_value(c.before, True)} | {_value(c.after, True)} | {arrow(c)} |"
        )

    for title, sentences in (
        ("上次认对、这次认错的句子 (Newly failing)", diff.newly_failing),
        ("上次认错、这次认对的句子 (Newly passing)", diff.newly_passing),
    ):
        lines += ["", f"### {title}"]
        for source in ("heldout", "cv"):
            if source == "cv" and not diff.cv_compared:
                continue
            mine = [s for s in sentences if s.source == source]
            note = CV_NOTE if source == "cv" else ""
            lines += ["", f"{SOURCE_TEXT[source]}：{len(mine)} 句。{note}"]
            if mine:
                lines += ["", *_sentence_table(mine, labels)]
    if diff.new_sentences:
        lines += [
            "",
            f"测试集里新加了 {diff.new_sentences} 句，其中 {len(diff.new_sentences_failing)} "
            "句没认对：",
            "",
        ]
        if diff.new_sentences_failing:
            lines += _sentence_table(diff.new_sentences_failing, labels)
    if diff.entities_newly_wrong or diff.entities_newly_right:
        lines += ["", "### 信息提取有变化的句子 (Entities newly wrong / right)", ""]
        lines += [f"- 这次找错了：{t}" for t in diff.entities_newly_wrong]
        lines += [f"- 这次找对了：{t}" for t in diff.entities_newly_right]
    return [*lines, ""]


def terminal(diff: Diff | None) -> list[str]:
    """A few lines for the end of `make nlu-report`."""
    if diff is None:
        return [f"[nlu-report] {VERDICT_TEXT[FIRST]}。"]
    by_key = {c.key: c for c in diff.overall}
    held = by_key["heldout"]
    lines = [
        f"[nlu-report] 和上次（{diff.previous_date}）相比：{VERDICT_TEXT[diff.verdict]}",
        f"  测试集准确率 {_value(held.before, True)} → {_value(held.after, True)} {arrow(held)}",
    ]
    if "cv" in by_key:
        cv = by_key["cv"]
        lines.append(
            f"  交叉验证准确率 {_value(cv.before, True)} → {_value(cv.after, True)} {arrow(cv)}"
        )
    worse = [c for c in diff.entities if c.direction < 0]
    if worse:
        lines.append("  信息提取变差：" + "、".join(c.key.split(":", 1)[1] for c in worse))
    for source in ("heldout", "cv"):
        if source == "cv" and not diff.cv_compared:
            continue
        failing = sum(s.source == source for s in diff.newly_failing)
        passing = sum(s.source == source for s in diff.newly_passing)
        note = "（分组是随机的，单句会有波动）" if source == "cv" else ""
        lines.append(f"  {SOURCE_TEXT[source]}{note}：新认错 {failing} 句，新认对 {passing} 句")
    lines.append("  详细见 reports/nlu/README.md「和上次相比」。")
    return lines
