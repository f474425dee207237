"""Measure the NLU and write reports/nlu/ (`make nlu-report`).

1. Train the full model (`rasa train`, as `make train` does) and time it.
2. Held-out test (tests/nlu/heldout.yml, never trained on): intent accuracy
   overall and per subset (plain / dialect / asr), entity F1 on
   (entity, value) pairs, wrong-service rate, and Rasa's own report and
   confusion matrix for the same file.
3. Unclear utterances (tests/nlu/unclear.yml): how many would be taken as a
   service instead of falling back.
4. Rasa's 5-fold cross-validation on data/nlu with the fallback switched off,
   so the out-of-fold confidences can be used to choose the fallback threshold.
5. reports/nlu/README.md with all numbers and the threshold reasoning, the
   most-confused intent pairs with their sentences (scripts/nlu_confusions.py),
   the confusion matrix pictures, and what changed since the last run
   (scripts/nlu_compare.py): the last run's snapshot is read from
   summary.json before anything is overwritten and kept as
   summary.previous.json; this run's becomes summary.json.

Bounded: one training (< 3 min) + 5 NLU-only trainings for the folds + two
model loads, about 15 minutes on 2 cores. Not part of `make test`; the
targets themselves are regression-tested in tests/nlu/test_model.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from scripts import nlu_compare, nlu_confusions
from scripts.try_text import INTENT_LABELS

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "reports" / "nlu"
HELDOUT = ROOT / "tests" / "nlu" / "heldout.yml"
UNCLEAR = ROOT / "tests" / "nlu" / "unclear.yml"
CONFIG = ROOT / "bot" / "config.yml"
RESULTS = REPORTS / "results.json"
SUMMARY = REPORTS / "summary.json"
PREVIOUS_SUMMARY = REPORTS / "summary.previous.json"
CONFUSION_PNG = "intent_confusion_matrix.png"
NLU_DATA = ROOT / "data" / "nlu"
SUBSETS = ("plain", "dialect", "asr")
SERVICES = frozenset(
    {
        "renew_id_card", "transfer_social_insurance", "pension_certification",
        "medical_insurance_filing", "social_security_card", "query_pension_payment",
        "check_application_status", "find_service_hall", "request_human", "apply_senior_card",
    }
)  # fmt: skip
TARGET_ENTITIES = ("province", "city", "id_number")
FALLBACK = "nlu_fallback"
THRESHOLDS = [round(0.30 + 0.05 * i, 2) for i in range(14)]  # 0.30 .. 0.95
# Targets of the issue; tests/nlu/test_model.py asserts the same numbers.
TARGET_OVERALL = 0.95
TARGET_SUBSET = 0.90
TARGET_ENTITY_F1 = 0.90


@dataclass
class Example:
    text: str
    intent: str
    subset: str
    entities: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Prediction:
    intent: str  # after the FallbackClassifier
    confidence: float
    raw_intent: str  # best intent other than nlu_fallback
    raw_confidence: float
    entities: list[tuple[str, str]]


def rasa_env() -> dict[str, str]:
    return {
        **os.environ,
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONWARNINGS": "ignore::DeprecationWarning",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
        "PYTHONPATH": str(ROOT),
    }


def rasa_bin() -> str:
    return str(Path(sys.executable).with_name("rasa"))


# ---------------------------------------------------------------- loading


def load_examples(path: Path = HELDOUT) -> list[Example]:
    """Held-out examples with their subset (block metadata) and gold entities."""
    from rasa.shared.nlu.training_data.loading import load_data

    examples = []
    for message in load_data(str(path)).intent_examples:
        metadata = message.get("metadata") or {}
        subset = (metadata.get("intent") or {}).get("subset") or (
            metadata.get("example") or {}
        ).get("subset")
        if subset not in SUBSETS:
            raise ValueError(
                f"{path.name}: example {message.get('text')!r} has no subset {SUBSETS}"
            )
        entities = [(e["entity"], str(e["value"])) for e in message.get("entities") or []]
        examples.append(Example(message.get("text"), message.get("intent"), subset, entities))
    return examples


def load_unclear(path: Path = UNCLEAR) -> list[str]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))["utterances"]


def load_agent(model: Path):
    from rasa.core.agent import Agent

    return Agent.load(str(model))


def predict(agent: Any, texts: list[str]) -> list[Prediction]:
    async def run() -> list[dict[str, Any]]:
        return [await agent.parse_message(text) for text in texts]

    predictions = []
    for parsed in asyncio.run(run()):
        ranking = [r for r in parsed.get("intent_ranking") or [] if r["name"] != FALLBACK]
        raw = ranking[0] if ranking else {"name": parsed["intent"]["name"], "confidence": 0.0}
        predictions.append(
            Prediction(
                intent=parsed["intent"]["name"],
                confidence=float(parsed["intent"]["confidence"]),
                raw_intent=raw["name"],
                raw_confidence=float(raw["confidence"]),
                entities=[(e["entity"], str(e["value"])) for e in parsed.get("entities") or []],
            )
        )
    return predictions


# ---------------------------------------------------------------- metrics


def accuracy(pairs: list[tuple[Example, Prediction]]) -> float:
    return sum(p.intent == e.intent for e, p in pairs) / len(pairs) if pairs else 0.0


def entity_scores(pairs: list[tuple[Example, Prediction]]) -> dict[str, dict[str, float]]:
    """Precision/recall/F1 per entity type on (entity, value) pairs, per example."""
    counts: dict[str, Counter] = defaultdict(Counter)
    for example, prediction in pairs:
        gold, found = Counter(example.entities), Counter(prediction.entities)
        for (entity, _), n in (gold & found).items():
            counts[entity]["tp"] += n
        for (entity, _), n in (found - gold).items():
            counts[entity]["fp"] += n
        for (entity, _), n in (gold - found).items():
            counts[entity]["fn"] += n
    scores = {}
    for entity, c in sorted(counts.items()):
        precision = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 0.0
        recall = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores[entity] = {
            "precision": precision, "recall": recall, "f1": f1,
            "support": c["tp"] + c["fn"], "predicted": c["tp"] + c["fp"],
        }  # fmt: skip
    return scores


def _item(example: Example, prediction: Prediction) -> dict[str, Any]:
    return {
        "text": example.text,
        "subset": example.subset,
        "intent": example.intent,
        "predicted": prediction.intent,
        "raw": prediction.raw_intent,
        "confidence": round(prediction.raw_confidence, 3),
    }


def evaluate(examples: list[Example], predictions: list[Prediction]) -> dict[str, Any]:
    pairs = list(zip(examples, predictions, strict=True))
    by_subset = {s: [(e, p) for e, p in pairs if e.subset == s] for s in SUBSETS}
    wrong_service = [(e, p) for e, p in pairs if p.intent != e.intent and p.intent in SERVICES]
    return {
        "n": len(pairs),
        "accuracy": accuracy(pairs),
        "subsets": {s: {"n": len(v), "accuracy": accuracy(v)} for s, v in by_subset.items()},
        "fallbacks": sum(p.intent == FALLBACK for _, p in pairs),
        "wrong_service": len(wrong_service),
        "entities": entity_scores(pairs),
        "items": [_item(e, p) for e, p in pairs],
        "errors": [_item(e, p) for e, p in pairs if p.intent != e.intent],
        "entity_errors": [
            {"text": e.text, "gold": e.entities, "predicted": p.entities}
            for e, p in pairs
            if Counter(e.entities) != Counter(p.entities)
        ],
    }


def sweep(
    scored: list[tuple[bool, str, float]], n_unclear_scores: list[tuple[str, float]]
) -> list[dict[str, Any]]:
    """What each fallback threshold would do.

    ``scored``: (correct, predicted intent, confidence) of real requests;
    ``n_unclear_scores``: (predicted intent, confidence) of unclear utterances.
    """
    rows = []
    total = len(scored) or 1
    for t in THRESHOLDS:
        kept = [(ok, intent) for ok, intent, c in scored if c >= t]
        unclear_service = sum(1 for intent, c in n_unclear_scores if c >= t and intent in SERVICES)
        rows.append(
            {
                "threshold": t,
                "accuracy": sum(ok for ok, _ in kept) / total,
                "wrong": sum(not ok for ok, _ in kept) / total,
                "wrong_service": sum(1 for ok, i in kept if not ok and i in SERVICES) / total,
                "fallback": (total - len(kept)) / total,
                "unclear_as_service": unclear_service,
            }
        )
    return rows


def recommend(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The strict rule: the lowest threshold at which no unclear utterance would be
    taken as a service. Lowest, because each step up turns more right answers into
    "please say it again"."""
    for row in rows:
        if row["unclear_as_service"] == 0:
            return row
    return rows[-1]


# ---------------------------------------------------------------- steps


TRAIN_TIME = REPORTS / "train_time.json"


def train_model() -> dict[str, Any]:
    """Train from scratch and time it; kept in reports/nlu/train_time.json."""
    from scripts import train

    started = time.monotonic()
    train.train(force=True)
    measured = {
        "seconds": time.monotonic() - started,
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "load_average": os.getloadavg()[0],
    }
    REPORTS.mkdir(parents=True, exist_ok=True)
    TRAIN_TIME.write_text(json.dumps(measured), encoding="utf-8")
    return measured


def last_train_time() -> dict[str, Any] | None:
    if TRAIN_TIME.exists():
        return json.loads(TRAIN_TIME.read_text(encoding="utf-8"))
    return None


def rasa_heldout_report(model: Path, out: Path) -> None:
    """Rasa's own report + confusion matrix PNG for the held-out file."""
    command = [rasa_bin(), "test", "nlu", "--model", str(model), "--nlu", str(HELDOUT)]
    subprocess.run(  # noqa: S603 - fixed argv
        [*command, "--out", str(out)],
        cwd=ROOT,
        env=rasa_env(),
        check=True,
        stdout=subprocess.DEVNULL,
    )


def cross_validate(out: Path, folds: int) -> tuple[float, list[tuple[bool, str, float]]]:
    """Rasa CV without the FallbackClassifier; returns time and out-of-fold scores."""
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    config["pipeline"] = [c for c in config["pipeline"] if c["name"] != "FallbackClassifier"]
    config.pop("policies", None)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.yml"
        path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        started = time.monotonic()
        subprocess.run(  # noqa: S603 - fixed argv
            [
                rasa_bin(), "test", "nlu", "--nlu", str(NLU_DATA), "--config", str(path),
                "--cross-validation", "--folds", str(folds), "--out", str(out),
                "--successes",
            ],
            cwd=ROOT, env=rasa_env(), check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        elapsed = time.monotonic() - started
    scored = []
    for name, ok in (("intent_successes.json", True), ("intent_errors.json", False)):
        path = out / name
        if path.exists():
            for item in json.loads(path.read_text(encoding="utf-8")):
                prediction = item["intent_prediction"]
                scored.append((ok, prediction["name"], float(prediction["confidence"] or 0.0)))
    return elapsed, scored


def cv_outcomes(out: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The sentences CV got wrong (with what it understood) and the texts it got right."""
    errors, passed = [], []
    path = out / "intent_errors.json"
    if path.exists():
        for item in json.loads(path.read_text(encoding="utf-8")):
            prediction = item["intent_prediction"]
            errors.append(
                {
                    "text": item["text"],
                    "intent": item["intent"],
                    "predicted": prediction["name"],
                    "confidence": round(float(prediction["confidence"] or 0.0), 3),
                }
            )
    path = out / "intent_successes.json"
    if path.exists():
        passed = [item["text"] for item in json.loads(path.read_text(encoding="utf-8"))]
    return errors, passed


# ---------------------------------------------------------------- last run


def load_previous() -> dict[str, Any] | None:
    """The last run's snapshot, read before this run overwrites anything.

    Reports written before summary.json existed are rebuilt from results.json,
    the CV files and the held-out file (a sentence not listed among the errors
    was right).
    """
    try:
        if SUMMARY.exists():
            snapshot = json.loads(SUMMARY.read_text(encoding="utf-8"))
            if snapshot.get("version") != nlu_compare.SNAPSHOT_VERSION:
                raise ValueError(f"snapshot version {snapshot.get('version')}")
            return snapshot
        if not RESULTS.exists():
            return None
        results = json.loads(RESULTS.read_text(encoding="utf-8"))
        held = results["heldout"]
        if "items" not in held:
            wrong = {e["text"]: e for e in held["errors"]}
            held["items"] = [
                wrong.get(e.text)
                or {"text": e.text, "intent": e.intent, "predicted": e.intent, "confidence": 1.0}
                for e in load_examples()
            ]
        passed: list[str] = []
        if results.get("cv"):
            results["cv"]["errors"], passed = cv_outcomes(REPORTS / "cv")
        return nlu_compare.summarize(results, cv_passed=passed)
    except (KeyError, TypeError, ValueError) as error:
        print(f"[nlu-report] the last report cannot be compared ({error!r}); starting afresh")
        return None


# ---------------------------------------------------------------- report


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _configured_fallback() -> dict[str, float]:
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    for component in config["pipeline"]:
        if component["name"] == "FallbackClassifier":
            return {
                "threshold": component["threshold"],
                "ambiguity_threshold": component["ambiguity_threshold"],
            }
    return {}


def _entities(pairs: list[Any]) -> str:
    """(entity, value) pairs, also after a round trip through JSON (lists)."""
    return ", ".join(f"{entity}={value}" for entity, value in pairs) or "—"


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def confusion_matrix_lines(results: dict[str, Any]) -> list[str]:
    lines = [
        "## 混淆矩阵 (Confusion matrix)",
        "",
        "每一行是“应该是”的意图，每一列是“听成了”的意图。对角线上的数字是认对的句数；"
        "对角线以外的数字就是认错的地方，越深越多。",
        "",
        f"Held-out: ![held-out confusion matrix](heldout/{CONFUSION_PNG})",
    ]
    if results.get("cv"):
        lines += ["", f"Cross-validation: ![CV confusion matrix](cv/{CONFUSION_PNG})"]
    return [*lines, ""]


def ensure_confusion_matrix(items: list[dict[str, Any]], out: Path) -> Path:
    """Rasa draws the held-out matrix; draw our own if it did not."""
    path = out / CONFUSION_PNG
    if not path.exists():
        print(f"[nlu-report] Rasa wrote no {CONFUSION_PNG}; drawing it from the predictions")
        nlu_confusions.plot_confusion_matrix(items, path)
    return path


def write_report(results: dict[str, Any], diff: nlu_compare.Diff | None = None) -> Path:
    held, unclear, fallback = results["heldout"], results["unclear"], results["fallback"]
    summary: list[list[Any]] = []
    if results.get("train"):
        measured = results["train"]
        summary.append(
            [
                f"full `rasa train` (NLU + dialogue), wall clock, {measured['date']}, "
                f"load average {measured['load_average']:.1f}",
                f"{measured['seconds']:.0f} s",
                "< 180 s",
            ]
        )
    summary.append(
        [f"held-out intent accuracy, overall ({held['n']})", _pct(held["accuracy"]), "≥ 95%"]
    )
    for subset in SUBSETS:
        s = held["subsets"][subset]
        target = "≥ 90%" if subset != "plain" else "-"
        summary.append(
            [f"held-out intent accuracy, {subset} ({s['n']})", _pct(s["accuracy"]), target]
        )
    for entity in TARGET_ENTITIES:
        score = held["entities"].get(entity)
        value = f"{_pct(score['f1'])} (support {score['support']})" if score else "n/a"
        summary.append([f"held-out entity F1, {entity}", value, "≥ 90%"])
    summary += [
        [
            "held-out: wrong service chosen",
            f"{held['wrong_service']} of {held['n']}",
            "0 preferred",
        ],
        ["held-out: fell back (asked again)", f"{held['fallbacks']} of {held['n']}", ""],
        [
            "unclear utterances taken as a service",
            f"{unclear['as_service']} of {unclear['n']}",
            "0",
        ],
    ]
    if results.get("cv"):
        cv = results["cv"]
        summary.append(
            [
                f"{cv['folds']}-fold CV intent accuracy / macro F1 (no fallback)",
                f"{_pct(cv['accuracy'])} / {_pct(cv['macro_f1'])}",
                "",
            ]
        )
    lines = [
        "# NLU report",
        "",
        f"Generated by `make nlu-report` (scripts/nlu_report.py) on {results['date']}.",
        f"Machine: {results['machine']}.",
        "",
        "## Summary",
        "",
        *_table(["measure", "value", "target"], summary),
        "",
        "Entity F1 counts an entity as right only when its type *and* normalised value match.",
        "",
        *nlu_compare.markdown(diff, INTENT_LABELS),
        *nlu_confusions.markdown(
            nlu_confusions.confused_pairs(
                held["errors"], (results.get("cv") or {}).get("errors", [])
            ),
            INTENT_LABELS,
        ),
        *confusion_matrix_lines(results),
        "## Held-out entities (all types)",
        "",
        *_table(
            ["entity", "precision", "recall", "F1", "support"],
            [
                [e, _pct(s["precision"]), _pct(s["recall"]), _pct(s["f1"]), s["support"]]
                for e, s in held["entities"].items()
            ],
        ),
    ]

    configured = fallback["configured"]
    rec = fallback["recommended"]
    lines += [
        "",
        "## Fallback threshold",
        "",
        f"Configured in bot/config.yml: threshold {configured.get('threshold')}, "
        f"ambiguity_threshold {configured.get('ambiguity_threshold')}.",
        "",
        f"Sweep of the FallbackClassifier threshold. Real requests: {fallback['source']}; "
        f"unclear: tests/nlu/unclear.yml ({unclear['n']} utterances). `accuracy` = answered "
        "and right, `wrong` = answered and wrong, `fallback` = asked to say it again (shares "
        "of real requests).",
        "",
        *_table(
            ["threshold", "accuracy", "wrong", "wrong service", "fallback", "unclear as service"],
            [
                [
                    f"{r['threshold']:.2f}",
                    _pct(r["accuracy"]),
                    _pct(r["wrong"]),
                    _pct(r["wrong_service"]),
                    _pct(r["fallback"]),
                    r["unclear_as_service"],
                ]
                for r in fallback["rows"]
            ],
        ),
        "",
        "Strict rule: the lowest threshold at which no unclear utterance is taken as a "
        f"service; this run gives **{rec['threshold']:.2f}** (CV accuracy "
        f"{_pct(rec['accuracy'])}, wrong {_pct(rec['wrong'])}, fallback {_pct(rec['fallback'])}).",
        "",
        "Why the configured value can differ: most wrong answers of DIET are confident "
        "(see the `wrong` column: it falls slowly while `fallback` climbs fast), so a higher "
        "threshold mostly turns right answers into repeated questions. The threshold is there "
        "to catch noise and half sentences, not to fix confident mistakes (those are fixed "
        "with training data). The value in bot/config.yml is the trade-off chosen between "
        "this strict rule and the accuracy target; its consequences are the rows above and "
        "the held-out rows below.",
        "",
        "Held-out with the same sweep (confirmation only; the threshold is not chosen on it):",
        "",
        *_table(
            ["threshold", "accuracy", "wrong", "fallback"],
            [
                [
                    f"{r['threshold']:.2f}",
                    _pct(r["accuracy"]),
                    _pct(r["wrong"]),
                    _pct(r["fallback"]),
                ]
                for r in fallback["heldout_rows"]
            ],
        ),
        "",
        "## Unclear utterances",
        "",
        *_table(
            ["utterance", "prediction", "raw intent", "raw confidence"],
            [
                [i["text"], i["intent"], i["raw"], f"{i['confidence']:.2f}"]
                for i in unclear["items"]
            ],
        ),
    ]
    if results.get("cv"):
        cv = results["cv"]
        lines += [
            "",
            f"## Cross-validation ({cv['folds']} folds over data/nlu, {cv['seconds']:.0f} s)",
            "",
            "Rasa's `rasa test nlu --cross-validation` with the pipeline of bot/config.yml minus "
            "the FallbackClassifier (to see raw confidences). The generated speech-recognition "
            "variants are part of data/nlu, so a variant and its original can fall in different "
            "folds: CV is optimistic, the held-out set is the honest number. Files: "
            "cv/intent_report.json, cv/intent_confusion_matrix.png, cv/intent_errors.json.",
            "",
            *_table(
                ["intent", "precision", "recall", "F1", "support"],
                [
                    [i, _pct(s["precision"]), _pct(s["recall"]), _pct(s["f1-score"]), s["support"]]
                    for i, s in cv["per_intent"].items()
                ],
            ),
        ]
    lines += [
        "",
        "## Held-out errors",
        "",
        "Rasa's own held-out report: heldout/intent_report.json and "
        "heldout/intent_confusion_matrix.png.",
        "",
        *_table(
            ["subset", "text", "expected", "predicted", "raw intent (confidence)"],
            [
                [
                    e["subset"],
                    e["text"],
                    e["intent"],
                    e["predicted"],
                    f"{e['raw']} ({e['confidence']})",
                ]
                for e in held["errors"]
            ],
        ),
        "",
        "## Held-out entity differences",
        "",
        *_table(
            ["text", "expected", "found"],
            [
                [e["text"], _entities(e["gold"]), _entities(e["predicted"])]
                for e in held["entity_errors"]
            ],
        ),
    ]
    REPORTS.mkdir(parents=True, exist_ok=True)
    path = REPORTS / "README.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    RESULTS.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def keep_snapshots(previous: dict[str, Any] | None, current: dict[str, Any]) -> None:
    """This run becomes summary.json; the last one summary.previous.json."""
    REPORTS.mkdir(parents=True, exist_ok=True)
    if previous is not None:
        PREVIOUS_SUMMARY.write_text(
            json.dumps(previous, ensure_ascii=False, indent=1), encoding="utf-8"
        )
    SUMMARY.write_text(json.dumps(current, ensure_ascii=False, indent=1), encoding="utf-8")


def rewrite_from_saved() -> Path:
    """README.md again from results.json and the two snapshots, measuring nothing
    (after a change to how the report is written)."""
    results = json.loads(RESULTS.read_text(encoding="utf-8"))
    current = json.loads(SUMMARY.read_text(encoding="utf-8"))
    previous = (
        json.loads(PREVIOUS_SUMMARY.read_text(encoding="utf-8"))
        if PREVIOUS_SUMMARY.exists()
        else None
    )
    diff = nlu_compare.compare(previous, current)
    path = write_report(results, diff)
    print("\n".join(nlu_compare.terminal(diff)))
    return path


def machine() -> str:
    cpu = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    python = platform.python_version()
    return f"{os.cpu_count()} cores {cpu}, Python {python}, load average at the end {load:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--skip-cv", action="store_true", help="no cross-validation (quick run)")
    parser.add_argument(
        "--skip-train", action="store_true", help="use the existing model, no timing"
    )
    parser.add_argument(
        "--from-saved",
        action="store_true",
        help="only rewrite README.md from the saved results and summaries (no measuring)",
    )
    args = parser.parse_args()
    if args.from_saved:
        rewrite_from_saved()
        return

    from scripts import train

    # Before anything below overwrites reports/nlu/.
    previous = load_previous()
    results: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M")}
    if args.skip_train:
        train.train()
        results["train"] = last_train_time()
    else:
        results["train"] = train_model()
    model = train.MODEL_FILE

    print("[nlu-report] held-out and unclear utterances")
    agent = load_agent(model)
    examples = load_examples()
    predictions = predict(agent, [e.text for e in examples])
    results["heldout"] = evaluate(examples, predictions)
    unclear = load_unclear()
    unclear_predictions = predict(agent, unclear)
    results["unclear"] = {
        "n": len(unclear),
        "as_service": sum(p.intent in SERVICES for p in unclear_predictions),
        "items": [
            {"text": t, "intent": p.intent, "raw": p.raw_intent, "confidence": p.raw_confidence}
            for t, p in zip(unclear, unclear_predictions, strict=True)
        ],
    }
    unclear_scores = [(p.raw_intent, p.raw_confidence) for p in unclear_predictions]
    heldout_scores = [
        (p.raw_intent == e.intent, p.raw_intent, p.raw_confidence)
        for e, p in zip(examples, predictions, strict=True)
    ]

    print("[nlu-report] Rasa's held-out report")
    # A picture left from the last run must not pass for this one.
    (REPORTS / "heldout" / CONFUSION_PNG).unlink(missing_ok=True)
    rasa_heldout_report(model, REPORTS / "heldout")
    ensure_confusion_matrix(results["heldout"]["items"], REPORTS / "heldout")

    cv_passed: list[str] = []
    if args.skip_cv:
        scored, source = heldout_scores, "held-out (no CV in this run)"
    else:
        print(f"[nlu-report] {args.folds}-fold cross-validation")
        seconds, scored = cross_validate(REPORTS / "cv", args.folds)
        report = json.loads((REPORTS / "cv" / "intent_report.json").read_text(encoding="utf-8"))
        per_intent = {
            k: v
            for k, v in sorted(report.items())
            if isinstance(v, dict)
            and "support" in v
            and k not in ("macro avg", "weighted avg", "micro avg")
        }
        results["cv"] = {
            "folds": args.folds,
            "seconds": seconds,
            "accuracy": report.get("accuracy", report.get("micro avg", {}).get("f1-score", 0.0)),
            "macro_f1": report["macro avg"]["f1-score"],
            "per_intent": per_intent,
        }
        results["cv"]["errors"], cv_passed = cv_outcomes(REPORTS / "cv")
        source = f"{args.folds}-fold CV out-of-fold predictions on data/nlu ({len(scored)})"
    rows = sweep(scored, unclear_scores)
    results["fallback"] = {
        "configured": _configured_fallback(),
        "source": source,
        "rows": rows,
        "recommended": recommend(rows),
        "heldout_rows": sweep(heldout_scores, unclear_scores),
    }
    results["machine"] = machine()
    current = nlu_compare.summarize(results, cv_passed=cv_passed)
    diff = nlu_compare.compare(previous, current)
    path = write_report(results, diff)
    keep_snapshots(previous, current)
    held = results["heldout"]
    print(
        f"[nlu-report] held-out accuracy {_pct(held['accuracy'])} "
        + " ".join(f"{s} {_pct(held['subsets'][s]['accuracy'])}" for s in SUBSETS)
        + f"; wrote {path.relative_to(ROOT)}"
    )
    print("\n".join(nlu_compare.terminal(diff)))


if __name__ == "__main__":
    main()
