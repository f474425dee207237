"""Our NLU pipeline against the baseline a team would start from:
`python -m bench.nlu_baseline` (reports/bench/nlu_baseline.md).

The baseline is Rasa 3.6's own suggested configuration, the file `rasa init` writes
and Rasa uses when a config has no pipeline
(rasa/engine/recipes/config_files/default_config.yml in the installed Rasa: Regex,
LexicalSyntactic and two CountVectors featurizers, DIETClassifier 100 epochs,
EntitySynonymMapper, ResponseSelector 100 epochs, FallbackClassifier 0.3), with
its WhitespaceTokenizer swapped for JiebaTokenizer, because the whitespace
tokenizer does not support Chinese (Rasa's docs: use Jieba for Chinese). Nothing
else is tuned.

Both are trained NLU-only (`rasa train nlu`, bench/train.py) on the same
data/nlu, each from an empty cache, and evaluated on the same held-out file
(tests/nlu/heldout.yml, never trained on) with scripts/nlu_report.py's loading,
prediction and scoring:

* intent accuracy as the assistant acts on it (each pipeline with its own
  FallbackClassifier) and of the best real intent (fallback ignored);
* macro F1 over the held-out intents;
* entity F1 on (entity, normalised value) pairs, all types and the ones the
  issue names (province, city, id_number);
* training time and parse time per message.

``--epochs N`` caps every component's epochs in both pipelines (the quick run):
the numbers are then only a smoke test.
"""

from __future__ import annotations

import argparse
import copy
import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench import common
from bench import train as bench_train
from bench.common import Headline, Report, pct, table

REPORT = common.REPORTS / "nlu_baseline.md"
OUR_CONFIG = common.ROOT / "bot" / "config.yml"


def rasa_default_config_path() -> Path:
    import rasa

    return Path(rasa.__file__).parent / "engine" / "recipes" / "config_files" / "default_config.yml"


def baseline_config(
    default: dict[str, Any] | None = None, *, keep_policies: bool = False
) -> dict[str, Any]:
    """Rasa's suggested config for Chinese: the default one with JiebaTokenizer, NLU only
    unless ``keep_policies`` (the stock reference bot of bench/stock.py)."""
    config = copy.deepcopy(default or yaml.safe_load(rasa_default_config_path().read_text()))
    config["language"] = "zh"
    config["assistant_id"] = "bench-baseline"
    pipeline = []
    for component in config["pipeline"]:
        if component["name"] == "WhitespaceTokenizer":
            component = {"name": "JiebaTokenizer"}
        pipeline.append(component)
    config["pipeline"] = pipeline
    if not keep_policies:
        config.pop("policies", None)  # `rasa train nlu` trains no policies
    return config


def our_config() -> dict[str, Any]:
    config = yaml.safe_load(OUR_CONFIG.read_text(encoding="utf-8"))
    config.pop("policies", None)
    return config


def cap_epochs(config: dict[str, Any], epochs: int) -> dict[str, Any]:
    """Every component that trains for epochs does at most ``epochs`` (quick runs)."""
    capped = copy.deepcopy(config)
    for component in capped["pipeline"]:
        if "epochs" in component or component["name"] in ("DIETClassifier", "ResponseSelector"):
            component["epochs"] = min(int(component.get("epochs", epochs)), epochs)
    return capped


# ---------------------------------------------------------------- scores


def macro_f1(gold: list[str], predicted: list[str]) -> float:
    """Macro F1 over the intents of the held-out file (a fallback is a miss)."""
    from sklearn.metrics import f1_score

    labels = sorted(set(gold))
    return float(f1_score(gold, predicted, labels=labels, average="macro", zero_division=0))


def micro_entity_f1(per_type: dict[str, dict[str, float]], types: list[str] | None = None) -> float:
    """Pooled F1 over entity types, from scripts/nlu_report.entity_scores' per-type numbers."""
    tp = fp = fn = 0.0
    for entity, s in per_type.items():
        if types is not None and entity not in types:
            continue
        hits = s["precision"] * s["predicted"]
        tp += hits
        fp += s["predicted"] - hits
        fn += s["support"] - hits
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


@dataclass
class Scores:
    name: str
    train_seconds: float
    parse_ms: float
    n: int
    accuracy: float
    raw_accuracy: float
    macro_f1: float
    subsets: dict[str, float]
    entity_f1: float
    target_entity_f1: dict[str, float]
    fallbacks: int
    wrong_service: int
    config: dict[str, Any] = field(default_factory=dict)
    epochs_cap: int | None = None  # quick runs: every component's epochs capped at this


def score(
    name: str,
    config: dict[str, Any],
    training: bench_train.Training,
    *,
    epochs_cap: int | None = None,
) -> Scores:
    from rasa.utils.log_utils import configure_structlog

    from scripts import nlu_report

    configure_structlog(logging.WARNING)  # not one debug line per parsed sentence
    examples = nlu_report.load_examples()
    agent = nlu_report.load_agent(training.model)
    nlu_report.predict(agent, [examples[0].text])  # first parse builds TensorFlow graphs
    started = time.perf_counter()
    predictions = nlu_report.predict(agent, [e.text for e in examples])
    parse_ms = (time.perf_counter() - started) * 1000 / len(examples)
    result = nlu_report.evaluate(examples, predictions)
    entities = result["entities"]
    return Scores(
        name=name,
        train_seconds=training.seconds,
        parse_ms=parse_ms,
        n=result["n"],
        accuracy=result["accuracy"],
        raw_accuracy=sum(
            p.raw_intent == e.intent for e, p in zip(examples, predictions, strict=True)
        )
        / len(examples),
        macro_f1=macro_f1([e.intent for e in examples], [p.intent for p in predictions]),
        subsets={s: v["accuracy"] for s, v in result["subsets"].items()},
        entity_f1=micro_entity_f1(entities),
        target_entity_f1={
            t: entities[t]["f1"] if t in entities else float("nan")
            for t in nlu_report.TARGET_ENTITIES
        },
        fallbacks=result["fallbacks"],
        wrong_service=result["wrong_service"],
        config=config,
        epochs_cap=epochs_cap,
    )


# ---------------------------------------------------------------- run


def train_with(config: dict[str, Any], work: Path, name: str) -> bench_train.Training:
    path = work / f"{name}.config.yml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return bench_train.nlu(work, config=path, name=name)


def compare(
    work: Path,
    *,
    epochs: int | None = None,
    ours: bench_train.Training | None = None,
    ours_cap: int | None = None,
) -> list[Scores]:
    """Train and score both. ``ours``: an NLU model of bot/config.yml already trained
    (bench/train.py's; with its epochs capped at ``ours_cap``), used as it is.
    ``epochs`` caps the epochs of what is trained here."""
    work.mkdir(parents=True, exist_ok=True)
    mine, base = our_config(), baseline_config()
    mine_cap = ours_cap
    if ours_cap:
        mine = cap_epochs(mine, ours_cap)
    if ours is None:
        if epochs:
            mine, mine_cap = cap_epochs(mine, epochs), epochs
        ours = train_with(mine, work, "ours")
    if epochs:
        base = cap_epochs(base, epochs)
    baseline = train_with(base, work, "baseline")
    common.say("scoring both on the held-out set")
    return [
        score("ours (bot/config.yml)", mine, ours, epochs_cap=mine_cap),
        score("Rasa's suggested config with Jieba", base, baseline, epochs_cap=epochs),
    ]


def headlines(scores: list[Scores]) -> list[Headline]:
    if len(scores) != 2:
        return []
    ours, base = scores
    return [
        Headline(
            "held-out intent accuracy, ours vs Rasa's suggested config",
            f"{pct(ours.accuracy)} vs {pct(base.accuracy)}",
        ),
        Headline(
            "held-out macro F1 / entity F1, ours vs suggested",
            f"{pct(ours.macro_f1)} / {pct(ours.entity_f1)} vs "
            f"{pct(base.macro_f1)} / {pct(base.entity_f1)}",
        ),
        Headline(
            "NLU training time, ours vs suggested",
            f"{ours.train_seconds:.0f} s vs {base.train_seconds:.0f} s",
        ),
    ]


def render(scores: list[Scores], *, command: str) -> list[str]:
    from scripts import nlu_report

    lines = common.header("NLU: our pipeline against Rasa's suggested Chinese config", command)
    lines += [
        "Both pipelines are trained NLU-only (`rasa train nlu`, empty cache each) on the same "
        "data/nlu and scored on tests/nlu/heldout.yml (never trained on) with "
        "scripts/nlu_report.py. The baseline is what a team would start from: Rasa "
        f"{_rasa_version()}'s suggested config (`{_default_config_shown()}`, the file "
        "`rasa init` writes and Rasa's default when a config has no pipeline) with "
        "WhitespaceTokenizer replaced by JiebaTokenizer, because the whitespace tokenizer does "
        "not support Chinese. Nothing else is changed.",
        "",
    ]
    capped = [f"{s.name} at {s.epochs_cap}" for s in scores if s.epochs_cap]
    if capped:
        lines += [
            f"**Quick run: every component's epochs capped ({', '.join(capped)}). These numbers "
            "are a smoke test, not a comparison.**",
            "",
        ]
    subsets = list(nlu_report.SUBSETS)
    targets = list(nlu_report.TARGET_ENTITIES)
    rows = []
    for s in scores:
        rows.append(
            [
                s.name,
                pct(s.accuracy),
                pct(s.raw_accuracy),
                pct(s.macro_f1),
                *(pct(s.subsets[x]) for x in subsets),
                pct(s.entity_f1),
                *(pct(s.target_entity_f1[t]) for t in targets),
                f"{s.fallbacks}",
                f"{s.wrong_service}",
                f"{s.train_seconds:.0f} s",
                f"{s.parse_ms:.0f} ms",
            ]
        )
    n = scores[0].n if scores else 0
    lines += table(
        [
            "pipeline", "intent accuracy", "best real intent", "macro F1",
            *(f"accuracy {x}" for x in subsets), "entity F1 (all)",
            *(f"F1 {t}" for t in targets), "fell back", "wrong service",
            "train (NLU only)", "parse / message",
        ],
        rows,
    )  # fmt: skip
    lines += [
        "",
        f"{n} held-out sentences. *intent accuracy*: the intent the assistant acts on, each "
        "pipeline with its own FallbackClassifier (a fallback counts as a miss). *best real "
        "intent*: the best intent other than the fallback. *macro F1*: mean F1 over the "
        "held-out intents. *entity F1*: an entity is right only when type and normalised value "
        "match. *wrong service*: a different service was chosen (worse than asking again). "
        "*parse / message*: mean time of one `Agent.parse_message`.",
        "",
        "## The two configurations",
        "",
    ]
    for s in scores:
        lines += [
            f"### {s.name}",
            "",
            "```yaml",
            yaml.safe_dump(s.config, allow_unicode=True, sort_keys=False).rstrip(),
            "```",
            "",
        ]
    return lines


def _rasa_version() -> str:
    import importlib.metadata

    return importlib.metadata.version("rasa")


def _default_config_shown() -> str:
    path = rasa_default_config_path()
    return str(path).split("site-packages/", 1)[-1]


def write(scores: list[Scores], *, started: float) -> Report:
    command = common.command_line("python -m bench.nlu_baseline")
    lines = render(scores, command=command)
    lines += ["", f"Benchmark took {time.monotonic() - started:.0f} s."]
    common.write(REPORT, lines)
    return Report(
        "NLU pipeline against the baseline", REPORT, headlines(scores), time.monotonic() - started
    )


def main() -> None:
    common.load_at_start()  # before any work loads the machine
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--epochs", type=int, help="cap every component's epochs (quick smoke run)")
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        scores = compare(Path(tmp), epochs=args.epochs)
    write(scores, started=started)


if __name__ == "__main__":
    main()
