"""`make nlu-report` around the measurements: confused pairs with their sentences,
the confusion matrix picture, and keeping the last run for the comparison.

No training: the report is written from hand-made results into a temporary folder.
"""

from __future__ import annotations

import json

import pytest

from scripts import nlu_compare, nlu_confusions, nlu_report
from tests.scripts.test_nlu_report_compare import BASE, item, results

HELD_ERRORS = [
    {"text": "上午好", "intent": "greet", "predicted": "inform", "raw": "inform",
     "confidence": 0.7},
    # Asked again, but the best guess was right: not a confusion.
    {"text": "您好啊", "intent": "greet", "predicted": "nlu_fallback", "raw": "greet",
     "confidence": 0.5},
    # Asked again, best guess wrong: a confusion, by the best guess.
    {"text": "我住苏州", "intent": "inform", "predicted": "nlu_fallback",
     "raw": "medical_insurance_filing", "confidence": 0.36},
]  # fmt: skip
CV_ERRORS = [
    {"text": "早上好", "intent": "greet", "predicted": "inform", "confidence": 0.95},
    {"text": "晚上好", "intent": "greet", "predicted": "inform", "confidence": 0.55},
    {"text": "费心了", "intent": "thank", "predicted": "out_of_scope", "confidence": 0.74},
]


def test_confused_pairs_count_both_sources_and_keep_the_sentences():
    pairs = nlu_confusions.confused_pairs(HELD_ERRORS, CV_ERRORS)
    assert [(p.intent, p.understood, p.count) for p in pairs] == [
        ("greet", "inform", 3),
        ("inform", "medical_insurance_filing", 1),
        ("thank", "out_of_scope", 1),
    ]
    first = pairs[0]
    assert (first.by_source("heldout"), first.by_source("cv")) == (1, 2)
    # Held-out first, then the most confident mistakes.
    assert [e["text"] for e in first.examples] == ["上午好", "早上好", "晚上好"]
    text = "\n".join(nlu_confusions.markdown(pairs, {"greet": "打招呼"}))
    assert "### 1. greet（打招呼） → inform：3 句（测试集 1 句，交叉验证 2 句）" in text
    assert "| 早上好 | 交叉验证 | 95% |" in text
    assert "您好啊" not in text


def test_confused_pairs_are_cut_to_the_top(monkeypatch):
    monkeypatch.setattr(nlu_confusions, "EXAMPLES_PER_PAIR", 1)
    pairs = nlu_confusions.confused_pairs(HELD_ERRORS, CV_ERRORS, top=1)
    assert len(pairs) == 1
    assert "| 还有 2 句 | | |" in nlu_confusions.markdown(pairs, {})


def test_no_errors_says_so():
    assert "没有认错的句子。" in nlu_confusions.markdown([], {})


def test_confusion_matrix_is_drawn_when_rasa_wrote_none(tmp_path):
    path = nlu_report.ensure_confusion_matrix(BASE, tmp_path / "heldout")
    assert path == tmp_path / "heldout" / "intent_confusion_matrix.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    drawn = path.stat().st_mtime_ns
    nlu_report.ensure_confusion_matrix(BASE, tmp_path / "heldout")  # Rasa's is kept
    assert path.stat().st_mtime_ns == drawn


@pytest.fixture
def reports(tmp_path, monkeypatch):
    folder = tmp_path / "reports" / "nlu"
    monkeypatch.setattr(nlu_report, "REPORTS", folder)
    monkeypatch.setattr(nlu_report, "RESULTS", folder / "results.json")
    monkeypatch.setattr(nlu_report, "SUMMARY", folder / "summary.json")
    monkeypatch.setattr(nlu_report, "PREVIOUS_SUMMARY", folder / "summary.previous.json")
    monkeypatch.setattr(nlu_report, "ROOT", tmp_path)
    return folder


def full_results(date, items, cv_errors=(), entity_errors=()):
    report = results(
        date,
        items,
        cv=(0.9, {"greet": 0.9, "inform": 0.8}, list(cv_errors)),
        entity_errors=entity_errors,
    )
    report["train"] = None
    report["machine"] = "test machine"
    rows = nlu_report.sweep([(True, "greet", 0.9)], [("greet", 0.2)])
    report["fallback"] = {
        "configured": {"threshold": 0.6, "ambiguity_threshold": 0.1},
        "source": "test",
        "rows": rows,
        "recommended": nlu_report.recommend(rows),
        "heldout_rows": rows,
    }
    report["cv"]["seconds"] = 1.0
    return report


def test_no_previous_report(reports):
    assert nlu_report.load_previous() is None


def test_the_report_compares_with_the_last_run_and_keeps_both_snapshots(reports):
    first = full_results("d1", BASE)
    first_snapshot = nlu_compare.summarize(first, cv_passed=["你好"])
    nlu_report.write_report(first, None)
    nlu_report.keep_snapshots(None, first_snapshot)
    assert not nlu_report.PREVIOUS_SUMMARY.exists()

    previous = nlu_report.load_previous()
    assert previous == first_snapshot
    fixed = [*BASE[:1], item("上午好", "greet"), *BASE[2:]]
    second = full_results("d2", fixed, cv_errors=CV_ERRORS, entity_errors=["我在北京"])
    current = nlu_compare.summarize(second, cv_passed=["你好"])
    diff = nlu_compare.compare(previous, current)
    readme = nlu_report.write_report(second, diff).read_text(encoding="utf-8")
    nlu_report.keep_snapshots(previous, current)

    assert json.loads(nlu_report.SUMMARY.read_text(encoding="utf-8"))["date"] == "d2"
    assert json.loads(nlu_report.PREVIOUS_SUMMARY.read_text(encoding="utf-8"))["date"] == "d1"
    sections = [line for line in readme.splitlines() if line.startswith("## ")]
    assert sections[:5] == [
        "## Summary",
        "## 和上次相比 (Compared with the last report)",
        "## 最容易混淆的意图 (Most-confused intents)",
        "## 混淆矩阵 (Confusion matrix)",
        "## Held-out entities (all types)",
    ]
    assert "**变好了**" in readme
    assert "| 上午好 | 测试集 | greet（打招呼） |" in readme
    assert "greet（打招呼） → inform（回答问题（姓名、号码、地点、日期、选择））：2 句" in readme
    assert "![held-out confusion matrix](heldout/intent_confusion_matrix.png)" in readme
    assert "![CV confusion matrix](cv/intent_confusion_matrix.png)" in readme
    assert "| 我在北京 | city=北京市 | — |" in readme
    saved = json.loads(nlu_report.RESULTS.read_text(encoding="utf-8"))
    assert len(saved["heldout"]["items"]) == len(fixed)
    # The same README again from the saved files, without measuring.
    assert nlu_report.rewrite_from_saved().read_text(encoding="utf-8") == readme


def test_a_report_from_before_snapshots_is_rebuilt(reports, monkeypatch):
    """The committed report had results.json and the CV files but no summary.json."""
    legacy = full_results("d0", BASE)
    del legacy["heldout"]["items"]
    del legacy["cv"]["errors"]
    reports.mkdir(parents=True)
    nlu_report.RESULTS.write_text(json.dumps(legacy, ensure_ascii=False), encoding="utf-8")
    (reports / "cv").mkdir()
    # Rasa's CV files, as `rasa test nlu --successes` writes them.
    for name, text, predicted, confidence in (
        ("intent_errors.json", "费心了", "out_of_scope", 0.74),
        ("intent_successes.json", "谢谢", "thank", 0.99),
    ):
        rows = [
            {
                "text": text,
                "intent": "thank",
                "intent_prediction": {"name": predicted, "confidence": confidence},
            }
        ]
        (reports / "cv" / name).write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    examples = [nlu_report.Example(i["text"], i["intent"], i["subset"]) for i in BASE]
    monkeypatch.setattr(nlu_report, "load_examples", lambda: examples)

    previous = nlu_report.load_previous()
    assert previous["date"] == "d0"
    assert [i["ok"] for i in previous["heldout"]["items"]] == [True, False, True, True, True]
    assert previous["heldout"]["intent_f1"]["greet"] == pytest.approx(2 / 3)
    assert previous["cv"]["errors"][0]["predicted"] == "out_of_scope"
    assert previous["cv"]["passed"] == ["谢谢"]
    # Compared with the same results measured again: nothing changed.
    again = nlu_compare.summarize(full_results("d1", BASE), cv_passed=["谢谢"])
    again["cv"]["errors"] = previous["cv"]["errors"]
    assert nlu_compare.compare(previous, again).verdict == nlu_compare.SAME


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("results.json", '{"date": "d0"}'),
        ("summary.json", "{half a file"),
        ("summary.json", '{"version": 0, "date": "d0"}'),
    ],
)
def test_an_unreadable_last_report_starts_afresh(reports, capsys, name, content):
    reports.mkdir(parents=True)
    (reports / name).write_text(content, encoding="utf-8")
    assert nlu_report.load_previous() is None
    assert "cannot be compared" in capsys.readouterr().out
