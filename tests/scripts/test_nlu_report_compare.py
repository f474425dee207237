"""The "compared with the last report" part of `make nlu-report`, on small fake reports.

No training: results are built by hand the way scripts/nlu_report.py writes them.
"""

from __future__ import annotations

import json

import pytest

from scripts import nlu_compare, nlu_report
from scripts.nlu_compare import BETTER, MIXED, SAME, WORSE

LABELS = {"greet": "打招呼", "inform": "回答问题", "renew_id_card": "身份证换领/补领"}


def item(text, intent, predicted=None, *, subset="plain", confidence=0.9, raw=None):
    predicted = predicted or intent
    return {
        "text": text,
        "subset": subset,
        "intent": intent,
        "predicted": predicted,
        "raw": raw or predicted,
        "confidence": confidence,
    }


def results(date, items, *, entity_f1=None, cv=None, entity_errors=(), unclear=0):
    """A results.json as scripts/nlu_report.py writes it, for these held-out items."""
    ok = [i for i in items if i["predicted"] == i["intent"]]
    subsets = {}
    for subset in ("plain", "dialect", "asr"):
        mine = [i for i in items if i["subset"] == subset]
        right = [i for i in mine if i["predicted"] == i["intent"]]
        subsets[subset] = {"n": len(mine), "accuracy": len(right) / len(mine) if mine else 0.0}
    report = {
        "date": date,
        "heldout": {
            "n": len(items),
            "accuracy": len(ok) / len(items),
            "subsets": subsets,
            "fallbacks": sum(i["predicted"] == "nlu_fallback" for i in items),
            "wrong_service": sum(
                i["predicted"] != i["intent"] and i["predicted"] in nlu_report.SERVICES
                for i in items
            ),
            "entities": {
                e: {"precision": f, "recall": f, "f1": f, "support": 4, "predicted": 4}
                for e, f in (entity_f1 or {"city": 1.0}).items()
            },
            "items": items,
            "errors": [i for i in items if i["predicted"] != i["intent"]],
            "entity_errors": [
                {"text": t, "gold": [["city", "北京市"]], "predicted": []} for t in entity_errors
            ],
        },
        "unclear": {"n": 3, "as_service": unclear, "items": []},
    }
    if cv is not None:
        accuracy, per_intent, errors = cv
        report["cv"] = {
            "folds": 5,
            "seconds": 1.0,
            "accuracy": accuracy,
            "macro_f1": accuracy,
            "per_intent": {
                i: {"precision": f, "recall": f, "f1-score": f, "support": 10}
                for i, f in per_intent.items()
            },
            "errors": errors,
        }
    return report


BASE = [
    item("你好", "greet"),
    item("上午好", "greet", "inform", confidence=0.7),
    item("我要换身份证", "renew_id_card"),
    item("身份证坏了", "renew_id_card", subset="dialect"),
    item("我在北京", "inform", subset="asr"),
]


def test_first_report_has_nothing_to_compare():
    current = nlu_compare.summarize(results("d1", BASE))
    assert nlu_compare.compare(None, current) is None
    assert "第一份报告" in "\n".join(nlu_compare.markdown(None))
    assert "第一份报告" in nlu_compare.terminal(None)[0]


def test_same_results_are_same():
    previous = nlu_compare.summarize(results("d1", BASE))
    diff = nlu_compare.compare(previous, nlu_compare.summarize(results("d2", BASE)))
    assert diff.verdict == SAME
    assert diff.newly_failing == [] and diff.newly_passing == []
    assert all(c.direction == 0 for c in diff.overall + diff.intents + diff.entities)
    assert "差不多" in nlu_compare.terminal(diff)[0]


def test_a_fixed_sentence_is_better_and_listed_as_newly_passing():
    fixed = [*BASE[:1], item("上午好", "greet"), *BASE[2:]]
    diff = nlu_compare.compare(
        nlu_compare.summarize(results("d1", BASE)), nlu_compare.summarize(results("d2", fixed))
    )
    assert diff.verdict == BETTER
    (passing,) = diff.newly_passing
    assert (passing.text, passing.intent, passing.predicted) == ("上午好", "greet", "greet")
    held = next(c for c in diff.overall if c.key == "heldout")
    assert (held.before, held.after) == (0.8, 1.0)
    assert nlu_compare.arrow(held) == "↑ +20.0 个百分点"
    greet = next(c for c in diff.intents if c.key == "heldout:greet")
    assert greet.before == pytest.approx(2 / 3) and greet.after == 1.0
    assert greet.direction == 1
    inform = next(c for c in diff.intents if c.key == "heldout:inform")
    assert inform.before == pytest.approx(2 / 3) and inform.direction == 1  # no false alarm now
    text = "\n".join(nlu_compare.markdown(diff, LABELS))
    assert "**变好了**" in text
    assert "| 上午好 | 测试集 | greet（打招呼） | greet（打招呼），把握 90% |" in text
    assert nlu_compare.terminal(diff)[0].endswith("变好了")


def test_a_broken_sentence_is_worse_with_what_it_was_taken_for():
    broken = [
        *BASE[:2],
        item("我要换身份证", "renew_id_card", "inform", confidence=0.83),
        *BASE[3:],
    ]
    diff = nlu_compare.compare(
        nlu_compare.summarize(results("d1", BASE)), nlu_compare.summarize(results("d2", broken))
    )
    assert diff.verdict == WORSE
    (failing,) = diff.newly_failing
    assert (failing.text, failing.predicted, failing.confidence) == ("我要换身份证", "inform", 0.83)
    assert failing.source == "heldout"
    text = "\n".join(nlu_compare.markdown(diff, LABELS))
    assert "**变差了**" in text
    assert (
        "| 我要换身份证 | 测试集 | renew_id_card（身份证换领/补领） "
        "| inform（回答问题），把握 83% |" in text
    )
    assert "  测试集：新认错 1 句，新认对 0 句" in nlu_compare.terminal(diff)
    assert "测试集：1 句。" in text


def test_a_sentence_that_now_falls_back_shows_the_best_guess():
    asked_again = [
        *BASE[:4],
        item("我在北京", "inform", "nlu_fallback", subset="asr", raw="inform", confidence=0.41),
    ]
    diff = nlu_compare.compare(
        nlu_compare.summarize(results("d1", BASE)),
        nlu_compare.summarize(results("d2", asked_again)),
    )
    fallbacks = next(c for c in diff.overall if c.key == "fallbacks")
    assert (fallbacks.before, fallbacks.after, fallbacks.direction) == (0, 1, -1)
    assert nlu_compare.arrow(fallbacks) == "↓ +1 句"  # more of them is worse
    text = "\n".join(nlu_compare.markdown(diff, LABELS))
    assert "没听懂、请对方再说（最像 inform（回答问题），把握 41%）" in text


def test_mixed_when_one_subset_gains_and_another_loses():
    mixed = [
        *BASE[:1],
        item("上午好", "greet"),
        *BASE[2:3],
        item("身份证坏了", "renew_id_card", "greet", subset="dialect"),
        *BASE[4:],
    ]
    diff = nlu_compare.compare(
        nlu_compare.summarize(results("d1", BASE)), nlu_compare.summarize(results("d2", mixed))
    )
    assert diff.verdict == MIXED
    assert [s.text for s in diff.newly_failing] == ["身份证坏了"]
    assert [s.text for s in diff.newly_passing] == ["上午好"]


def test_entity_f1_drop_is_worse_and_named_in_the_terminal():
    diff = nlu_compare.compare(
        nlu_compare.summarize(results("d1", BASE, entity_f1={"city": 1.0, "province": 0.9})),
        nlu_compare.summarize(
            results("d2", BASE, entity_f1={"city": 0.8, "province": 0.9},
                    entity_errors=["我在北京"])
        ),
    )  # fmt: skip
    city = next(c for c in diff.entities if c.key == "entity:city")
    province = next(c for c in diff.entities if c.key == "entity:province")
    assert city.direction == -1 and nlu_compare.arrow(city) == "↓ −20.0 个百分点"
    assert province.direction == 0 and nlu_compare.arrow(province) == "＝"  # unchanged
    assert diff.verdict == WORSE
    assert diff.entities_newly_wrong == ["我在北京"]
    assert any("信息提取变差：city" in line for line in nlu_compare.terminal(diff))


def test_new_and_removed_test_sentences_are_not_counted_as_changes():
    grown = [*BASE[1:], item("早上好呀", "greet", "inform")]  # "你好" removed, one added
    diff = nlu_compare.compare(
        nlu_compare.summarize(results("d1", BASE)), nlu_compare.summarize(results("d2", grown))
    )
    assert diff.newly_failing == [] and diff.newly_passing == []
    assert diff.new_sentences == 1
    assert [s.text for s in diff.new_sentences_failing] == ["早上好呀"]
    assert "测试集里新加了 1 句，其中 1 句没认对" in "\n".join(nlu_compare.markdown(diff))


def test_cross_validation_sentences_newly_failing_and_passing():
    wrong = {
        "text": "办身份证",
        "intent": "renew_id_card",
        "predicted": "inform",
        "confidence": 0.6,
    }
    fixed = {"text": "我说完了", "intent": "inform", "predicted": "greet", "confidence": 0.7}
    before = results("d1", BASE, cv=(0.90, {"greet": 0.9, "inform": 0.8}, [fixed]))
    after = results("d2", BASE, cv=(0.902, {"greet": 0.97, "inform": 0.77}, [wrong]))
    diff = nlu_compare.compare(
        nlu_compare.summarize(before, cv_passed=["办身份证", "你好"]),
        nlu_compare.summarize(after, cv_passed=["我说完了", "你好"]),
    )
    assert diff.cv_compared
    cv = next(c for c in diff.overall if c.key == "cv")
    assert cv.direction == 0  # 0.2 points is CV noise
    assert [(s.text, s.source) for s in diff.newly_failing] == [("办身份证", "cv")]
    assert [(s.text, s.source) for s in diff.newly_passing] == [("我说完了", "cv")]
    greet = next(c for c in diff.intents if c.key == "cv:greet")
    assert greet.direction == 1
    inform = next(c for c in diff.intents if c.key == "cv:inform")
    assert inform.direction == 0  # 3 points is CV noise
    text = "\n".join(nlu_compare.markdown(diff, LABELS))
    assert "| greet（打招呼） | 交叉验证 F1 | 90.0% | 97.0% | ↑ +7.0 个百分点 |" in text
    assert "inform（回答问题） | 交叉验证" not in text
    assert "| 办身份证 | 交叉验证 |" in text
    assert "交叉验证：1 句。交叉验证每次分组都是随机的" in text
    assert "  交叉验证（分组是随机的，单句会有波动）：新认错 1 句，新认对 1 句" in (
        nlu_compare.terminal(diff)
    )


def test_cv_is_not_compared_when_one_run_skipped_it():
    diff = nlu_compare.compare(
        nlu_compare.summarize(results("d1", BASE, cv=(0.9, {"greet": 0.9}, []))),
        nlu_compare.summarize(results("d2", BASE)),
    )
    assert not diff.cv_compared
    assert not any(c.key.startswith("cv") for c in diff.overall + diff.intents)
    assert "这次或上次没有做，不比较" in "\n".join(nlu_compare.markdown(diff))


def test_long_lists_are_cut(monkeypatch):
    monkeypatch.setattr(nlu_compare, "MAX_SENTENCES", 2)
    before = [item(f"句子{n}", "greet") for n in range(5)]
    after = [item(f"句子{n}", "greet", "inform") for n in range(5)]
    diff = nlu_compare.compare(
        nlu_compare.summarize(results("d1", before)), nlu_compare.summarize(results("d2", after))
    )
    text = "\n".join(nlu_compare.markdown(diff))
    assert "句子1" in text and "句子2" not in text
    assert "还有 3 句没有列出" in text


def test_intent_f1_counts_a_fallback_as_a_miss_only():
    scores = nlu_compare.intent_f1(
        [item("a", "greet"), item("b", "greet", "nlu_fallback"), item("c", "inform", "greet")]
    )
    # greet: tp 1, fn 1, fp 1 -> 0.5; inform: tp 0 -> 0; no nlu_fallback row.
    assert scores == {"greet": pytest.approx(0.5), "inform": 0.0}


def test_snapshot_round_trips_through_json():
    snapshot = nlu_compare.summarize(
        results("d1", BASE, cv=(0.9, {"greet": 0.9}, [])), cv_passed=["b", "a"]
    )
    again = json.loads(json.dumps(snapshot, ensure_ascii=False))
    assert again == snapshot
    assert again["cv"]["passed"] == ["a", "b"]
    assert nlu_compare.compare(again, snapshot).verdict == SAME


def test_a_sentence_with_a_bar_keeps_the_table_intact():
    before = [item("a|b", "greet")]
    after = [item("a|b", "greet", "inform")]
    diff = nlu_compare.compare(
        nlu_compare.summarize(results("d1", before)), nlu_compare.summarize(results("d2", after))
    )
    assert "| a\\|b | 测试集 |" in "\n".join(nlu_compare.markdown(diff))
