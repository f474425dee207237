"""All benchmarks of issue #9 in one run: `python -m bench.run [--quick]` (`make bench`).

Writes one report per benchmark into reports/bench/ and an index,
reports/bench/README.md, with the headline numbers against their targets:

1. text.md: text turn latency and throughput over Rasa's REST channel at 1, 10
   and 50 closed-loop users, and where the Rasa server's time goes (pyinstrument);
   the production profile too when PostgreSQL and Redis answer (`--profile`).
2. memory.md: memory of every process of the default stack (with the gateway's
   Vosk model loaded) after warm-up and after the text load.
3. train.md: full `rasa train` and NLU-only `rasa train nlu` from scratch.
4. nlu_baseline.md: our NLU pipeline against Rasa's suggested Chinese config on
   the held-out set.

The default stack is started once for 1 and 2. Numbers depend on the machine and
what else runs on it: measure on a quiet machine (the full run takes about half
an hour on 2 cores, most of it training). ``--quick`` (1 and 10 users for 10 s,
no production profile, no full training, NLU epochs capped at 3)
is for development: its numbers mean nothing.

The production profile is measured in the full run when PostgreSQL and Redis
answer (otherwise text.md says why it was skipped); ``--profile`` chooses.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import yaml

from bench import common, memory, nlu_baseline, text
from bench import train as bench_train
from bench.common import Report, table
from bench.stack import default_stack

INDEX = common.REPORTS / "README.md"
OTHER_REPORTS = [
    ("voice.md", "speech recognition, synthesis, end of speech → first audio (`make bench-voice`)"),
]
BENCHMARKS = ("text", "memory", "train", "nlu")


class Failed(Report):
    pass


def guarded(title: str, path: Path, step: Callable[[], list[Report]]) -> list[Report]:
    """Run one benchmark; a failure is reported in the index, the others still run."""
    started = time.monotonic()
    try:
        return step()
    except Exception as error:  # noqa: BLE001 - any failure of one benchmark is reported
        traceback.print_exc()
        report = Failed(title, path, seconds=time.monotonic() - started)
        report.headlines = [common.Headline(title, f"failed: {type(error).__name__}: {error}")]
        return [report]


def stack_benchmarks(args: argparse.Namespace, work: Path) -> list[Report]:
    """Text load (default profile) and memory share one start of the default stack."""
    levels = text.QUICK_LEVELS if args.quick else text.LEVELS
    duration = args.duration or (10.0 if args.quick else 60.0)
    where_duration = min(duration, 30.0)
    started = time.monotonic()
    runs: list[text.ProfileRun] = []
    reports: list[Report] = []
    want_text, want_memory = "text" in args.only, "memory" in args.only
    if "default" in text.PROFILES[args.profile]:
        with default_stack(work / "default", voice=want_memory) as stack:
            note = memory.warm_up(stack)
            mem = memory.MemoryRun(
                stack.description,
                stack.env.get("BENCH_VOICE_MODEL", "none"),
                note,
                [("after warm-up", memory.snapshot(stack.processes))],
            )
            if want_text:
                run = text.ProfileRun("default", stack.description)
                run.levels = text.measure(stack.rasa_url, levels, duration)
                mem.snapshots.append(
                    (
                        f"after the text load ({max(levels)} users)",
                        memory.snapshot(stack.processes),
                    )
                )
                if not args.no_where:
                    run.cpu = text.cpu_by_process(stack, users=10, duration=where_duration)
                    run.where = text.where_the_time_goes(stack, users=10, duration=where_duration)
                runs.append(run)
        if want_memory:
            reports.append(memory.write(mem, started=started))
    for name in text.STARTED_HERE:
        if want_text and name in text.PROFILES[args.profile]:
            runs.append(
                text.run_started(
                    name, work, levels=levels, duration=duration,
                    where_users=None if args.no_where else 10,
                )
            )  # fmt: skip
    if want_text:
        reports.insert(0, text.write(runs, duration=duration, started=started))
    return reports


def training_benchmarks(args: argparse.Namespace, work: Path) -> list[Report]:
    """Training times, then the NLU comparison, which reuses the NLU-only model.

    Quick runs train with every component's epochs capped at 3 (labelled so in
    both reports): enough to see that everything works end to end.
    """
    started = time.monotonic()
    reports: list[Report] = []
    nlu_model = None
    cap = 3 if args.quick else None
    if "train" in args.only:
        runs = []
        skipped = "skipped in --quick" if args.quick else None
        if not args.quick:
            runs.append(bench_train.full(work))
        config = None
        if cap:
            config = work / "ours-capped.config.yml"
            capped = nlu_baseline.cap_epochs(nlu_baseline.our_config(), cap)
            config.write_text(yaml.safe_dump(capped, allow_unicode=True), encoding="utf-8")
        note = f" (quick: epochs capped at {cap})" if cap else ""
        nlu_model = bench_train.nlu(work, config=config, note=note)
        runs.append(nlu_model)
        reports.append(bench_train.write(runs, started=started, skipped=skipped))
    if "nlu" in args.only:
        started = time.monotonic()
        scores = nlu_baseline.compare(
            work / "compare", epochs=cap, ours=nlu_model, ours_cap=cap if nlu_model else None
        )
        reports.append(nlu_baseline.write(scores, started=started))
    return reports


def earlier_rows(written: set[str]) -> list[list[str]]:
    """The index's rows of reports this run did not write, from the index before it.

    A partial run (``--only``) keeps the other reports; their headlines stay in
    the table, marked as from an earlier run (each report's header says when).
    """
    if not INDEX.exists():
        return []
    rows: list[list[str]] = []
    name = None
    for line in INDEX.read_text(encoding="utf-8").splitlines():
        if not line.startswith("| ") or line.startswith(("| report ", "|---")):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        if len(cells) != 5:
            continue
        if cells[0]:
            link = re.match(r"\[([^\]]+)\]", cells[0])
            name = link.group(1) if link else None
            if name and name not in written and (common.REPORTS / name).exists():
                cells[0] = f"[{name}]({name}) (earlier run)"
        if name and name not in written and (common.REPORTS / name).exists():
            rows.append(cells)
    return rows


def write_index(reports: list[Report], *, quick: bool, started: float) -> None:
    when = dt.datetime.now().astimezone()
    lines = [
        "# Benchmarks",
        "",
        f"- Command: {common.command_line('python -m bench.run')} (`make bench` runs the full set)",
        f"- Date: {when:%Y-%m-%d %H:%M %Z}",
        f"- Commit: {common.git_commit()}",
        f"- Machine: {common.machine()}",
        "",
    ]
    if quick:
        lines += [
            "**Quick run (`--quick`): short levels, no production profile, no full training, "
            "NLU epochs capped at 3. For development only: do not quote these numbers.**",
            "",
        ]
    lines += [
        "Every report starts with its command, date, commit and machine. Numbers depend on "
        "the machine and on what else runs on it; the issue's targets stand next to them.",
        "",
    ]
    rows = []
    written = {r.path.name for r in reports}
    for report in reports:
        link = f"[{report.path.name}]({report.path.name})"
        if isinstance(report, Failed):
            link += " (not written)"
        for h in report.headlines or [common.Headline("-", "-")]:
            rows.append([link, h.measure, h.value, h.target, h.verdict])
            link = ""
    rows += earlier_rows(written)
    lines += table(["report", "measure", "value", "target", "verdict"], rows)
    others = sorted(
        p.name for p in common.REPORTS.glob("*.md") if p.name not in written | {INDEX.name}
    )
    if others:
        lines += ["", "Not part of this run (see each report's header for when it was made):", ""]
        known = dict(OTHER_REPORTS)
        lines += [
            f"- [{name}]({name})" + (f": {known[name]}" if name in known else "") for name in others
        ]
    lines += ["", f"This run took {time.monotonic() - started:.0f} s."]
    common.write(INDEX, lines)


def main() -> None:
    common.load_at_start()  # before any work loads the machine
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="a few minutes, for development (numbers mean nothing)"
    )
    parser.add_argument(
        "--only",
        default=",".join(BENCHMARKS),
        help=f"comma-separated subset of {','.join(BENCHMARKS)}",
    )
    parser.add_argument(
        "--profile",
        choices=list(text.PROFILES),
        help="stacks for the text load: default (`make run`), prod (`make run-prod`, needs "
        "PostgreSQL and Redis; skipped with the reason when they do not answer), stock (the "
        "stock Rasa reference of bench/stock.py) or both (all three, in one run); "
        "default: both, or only default with --quick",
    )
    parser.add_argument("--duration", type=float, help="seconds per text load level")
    parser.add_argument("--no-where", action="store_true", help="skip the pyinstrument run")
    args = parser.parse_args()
    args.only = {x.strip() for x in args.only.split(",") if x.strip()}
    args.profile = args.profile or ("default" if args.quick else "both")
    if unknown := args.only - set(BENCHMARKS):
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    started = time.monotonic()
    reports: list[Report] = []
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        work = Path(tmp)
        if args.only & {"text", "memory"}:
            reports += guarded(
                "text load and memory", text.REPORT, lambda: stack_benchmarks(args, work)
            )
        if args.only & {"train", "nlu"}:
            reports += guarded(
                "training and NLU comparison",
                bench_train.REPORT,
                lambda: training_benchmarks(args, work),
            )
    write_index(reports, quick=args.quick, started=started)
    print("\n".join(INDEX.read_text(encoding="utf-8").splitlines()[:40]))
    if any(isinstance(r, Failed) for r in reports):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
