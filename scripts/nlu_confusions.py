"""Which intents the NLU mixes up, with the sentences it got wrong (`make nlu-report`).

Pairs are counted over the held-out sentences and the cross-validation
out-of-fold predictions together: "expected → understood", most frequent
first, each with the actual sentences and how sure the model was. A held-out
sentence that only fell back (asked again) while its best guess was right is a
low-confidence case, not a confusion, and is left out here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scripts.nlu_compare import SOURCE_TEXT, cell

TOP_PAIRS = 10
EXAMPLES_PER_PAIR = 5


@dataclass
class Pair:
    intent: str
    understood: str
    examples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.examples)

    def by_source(self, source: str) -> int:
        return sum(e["source"] == source for e in self.examples)


def confused_pairs(
    heldout_errors: list[dict[str, Any]], cv_errors: list[dict[str, Any]], top: int = TOP_PAIRS
) -> list[Pair]:
    """The most frequent (expected, understood) pairs, held-out examples first.

    Held-out errors carry ``raw`` (the best guess before the fallback);
    CV errors carry ``predicted`` (CV runs without the fallback).
    """
    pairs: dict[tuple[str, str], Pair] = {}
    sources = [("heldout", e, e.get("raw", e["predicted"])) for e in heldout_errors] + [
        ("cv", e, e["predicted"]) for e in cv_errors
    ]
    for source, error, understood in sources:
        if understood == error["intent"]:
            continue
        pair = pairs.setdefault((error["intent"], understood), Pair(error["intent"], understood))
        pair.examples.append(
            {"text": error["text"], "source": source, "confidence": float(error["confidence"])}
        )
    ranked = sorted(
        pairs.values(), key=lambda p: (-p.count, -p.by_source("heldout"), p.intent, p.understood)
    )
    for pair in ranked:
        # Held-out first (the honest test), then the most confident mistakes.
        pair.examples.sort(key=lambda e: (e["source"] != "heldout", -e["confidence"]))
    return ranked[:top]


def markdown(pairs: list[Pair], labels: dict[str, str]) -> list[str]:
    def label(intent: str) -> str:
        return f"{intent}（{labels[intent]}）" if intent in labels else intent

    lines = [
        "## 最容易混淆的意图 (Most-confused intents)",
        "",
        "“应该是 → 听成了”，按句数从多到少。句子来自测试集（从来不训练的句子）和交叉验证"
        "（训练句子轮流拿出来考）。把握很高还认错的句子最值得看：通常要给“应该是”的意图"
        "多加几句类似的说法，或者检查这句话是不是放错了意图。",
        "",
    ]
    if not pairs:
        return [*lines, "没有认错的句子。", ""]
    for number, pair in enumerate(pairs, 1):
        counts = "，".join(
            f"{SOURCE_TEXT[s]} {pair.by_source(s)} 句" for s in SOURCE_TEXT if pair.by_source(s)
        )
        lines += [
            f"### {number}. {label(pair.intent)} → {label(pair.understood)}："
            f"{pair.count} 句（{counts}）",
            "",
            "| 句子 | 来源 | 把握 |",
            "| --- | --- | --- |",
        ]
        lines += [
            f"| {cell(e['text'])} | {SOURCE_TEXT[e['source']]} | {e['confidence']:.0%} |"
            for e in pair.examples[:EXAMPLES_PER_PAIR]
        ]
        if pair.count > EXAMPLES_PER_PAIR:
            lines.append(f"| 还有 {pair.count - EXAMPLES_PER_PAIR} 句 | | |")
        lines.append("")
    return lines


def plot_confusion_matrix(items: list[dict[str, Any]], path: Path) -> Path:
    """Draw an intent confusion matrix PNG from (intent, predicted) items.

    Rasa's `rasa test nlu` normally draws one; this is the stand-in when it did not.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = sorted({i["intent"] for i in items} | {i["predicted"] for i in items})
    index = {name: n for n, name in enumerate(names)}
    grid = [[0] * len(names) for _ in names]
    for item in items:
        grid[index[item["intent"]]][index[item["predicted"]]] += 1
    size = max(6.0, 0.5 * len(names) + 2)
    figure, axes = plt.subplots(figsize=(size, size))
    axes.imshow(grid, cmap="Blues")
    axes.set_xticks(range(len(names)), names, rotation=90)
    axes.set_yticks(range(len(names)), names)
    axes.set_xlabel("Predicted label")
    axes.set_ylabel("True label")
    axes.set_title("Intent confusion matrix")
    peak = max((max(row) for row in grid), default=0)
    for row, counts in enumerate(grid):
        for column, count in enumerate(counts):
            if count:
                color = "white" if count > peak / 2 else "black"
                axes.text(column, row, count, ha="center", va="center", color=color)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path
