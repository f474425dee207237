"""Training time: `python -m bench.train` (reports/bench/train.md).

* Full training: `rasa train --force` with the arguments `make train` uses
  (scripts/train.py: bot/config.yml, bot/domain, data/nlu + data/dialogue), NLU
  and dialogue policies, into a temporary folder so models/ is left alone.
* NLU-only retraining: `rasa train nlu` with bot/config.yml on data/nlu, what a
  change to the training sentences costs before it can be tried.

Each run gets an empty Rasa cache (RASA_CACHE_DIRECTORY), so nothing is reused
from an earlier training: these are from-scratch times. Peak memory is the
largest RSS of the training process tree, read every half second.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from bench import common
from bench.common import Headline, Report, mib, table
from scripts import train as make_train

REPORT = common.REPORTS / "train.md"
RASA = str(Path(sys.executable).with_name("rasa"))
NLU_DATA = common.ROOT / "data" / "nlu"
# The budget for a full training on the 2-core machine.
TARGET_FULL_S = 180.0


@dataclass
class Training:
    what: str
    command: list[str]
    seconds: float
    peak_rss: int
    model: Path
    work: Path

    @property
    def model_size(self) -> int:
        return self.model.stat().st_size if self.model.exists() else 0

    def shown(self) -> str:
        """The command as a reader would type it (paths relative to the repository)."""
        out = []
        for arg in self.command[1:]:
            if arg.startswith(str(self.work)):
                arg = "$TMP" + arg.removeprefix(str(self.work))
            elif arg.startswith(str(common.ROOT)):
                arg = os.path.relpath(arg, common.ROOT)
            out.append(arg)
        return " ".join(["rasa", *out])


def rasa_env(cache: Path) -> dict[str, str]:
    return {
        **os.environ,
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONWARNINGS": "ignore",
        "PYTHONPATH": str(common.ROOT),  # custom NLU components (nluext/)
        "RASA_CACHE_DIRECTORY": str(cache),
    }


def timed(what: str, command: list[str], work: Path, model: Path) -> Training:
    """Run a training command with an empty cache; wall time and peak RSS of its tree."""
    cache = work / f"cache-{model.stem.split('.')[0]}"
    log = work / f"{model.stem.split('.')[0]}.log"
    peak = 0
    stop = threading.Event()
    with log.open("wb") as out:
        started = time.monotonic()
        process = subprocess.Popen(
            command, cwd=common.ROOT, env=rasa_env(cache), stdout=out, stderr=subprocess.STDOUT
        )

        def watch() -> None:
            nonlocal peak
            while not stop.is_set():
                try:
                    root = psutil.Process(process.pid)
                    tree = [root, *root.children(recursive=True)]
                    rss = 0
                    for p in tree:
                        try:
                            rss += p.memory_info().rss
                        except psutil.NoSuchProcess:
                            continue
                    peak = max(peak, rss)
                except psutil.NoSuchProcess:
                    return
                stop.wait(0.5)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        code = process.wait()
        seconds = time.monotonic() - started
        stop.set()
        watcher.join()
    if code != 0 or not model.exists():
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        raise RuntimeError(f"{what} failed (exit {code}):\n{tail}")
    return Training(what, command, seconds, peak, model, work)


def full(work: Path) -> Training:
    out = work / "full"
    command = [
        RASA, "train",
        "--config", str(make_train.CONFIG),
        "--domain", str(make_train.DOMAIN),
        "--data", *(str(p) for p in make_train.TRAINING_DATA if p.exists()),
        "--out", str(out), "--fixed-model-name", "full", "--force",
    ]  # fmt: skip
    common.say("full training (rasa train --force)")
    return timed("full `rasa train`", command, work, out / "full.tar.gz")


def nlu(work: Path, *, config: Path | None = None, name: str = "nlu", note: str = "") -> Training:
    """`rasa train nlu` with ``config`` (default bot/config.yml) on data/nlu.

    The domain is passed as for the full training; without it Rasa looks for a
    domain.yml that this repository does not have."""
    out = work / name
    command = [
        RASA, "train", "nlu",
        "--config", str(config or make_train.CONFIG),
        "--domain", str(make_train.DOMAIN),
        "--nlu", str(NLU_DATA),
        "--out", str(out), "--fixed-model-name", name,
    ]  # fmt: skip
    common.say(f"NLU-only training ({name})")
    what = f"NLU-only `rasa train nlu` ({name}){note}"
    return timed(what, command, work, out / f"{name}.tar.gz")


def headlines(runs: list[Training], skipped: str | None = None) -> list[Headline]:
    out = []
    by_what = {t.what.split(" ")[0]: t for t in runs}
    if "full" in by_what:
        t = by_what["full"]
        out.append(
            Headline(
                "full `rasa train`",
                f"{t.seconds:.0f} s",
                f"< {TARGET_FULL_S:.0f} s",
                t.seconds < TARGET_FULL_S,
            )
        )
    elif skipped:
        out.append(Headline("full `rasa train`", f"not measured: {skipped}"))
    if "NLU-only" in by_what:
        out.append(Headline("NLU-only `rasa train nlu`", f"{by_what['NLU-only'].seconds:.0f} s"))
    return out


def render(runs: list[Training], *, command: str, skipped: str | None = None) -> list[str]:
    lines = common.header("Training time", command)
    lines += [
        "From scratch: each training gets an empty Rasa cache, into a temporary folder "
        "(models/ is not touched). Wall clock on this machine; peak memory is the largest "
        "RSS of the training process tree (read every 0.5 s).",
        "",
        *table(
            ["training", "wall clock", "peak RSS", "model size", "command"],
            [
                [t.what, f"{t.seconds:.0f} s", mib(t.peak_rss), mib(t.model_size), t.shown()]
                for t in runs
            ],
        ),
        "",
    ]
    if skipped:
        lines += [f"Full training not measured: {skipped}.", ""]
    lines += ["## Against the target", ""]
    lines += table(
        ["measure", "value", "target", "verdict"],
        [[h.measure, h.value, h.target, h.verdict] for h in headlines(runs, skipped)],
    )
    return lines


def write(runs: list[Training], *, started: float, skipped: str | None = None) -> Report:
    lines = render(runs, command=common.command_line("python -m bench.train"), skipped=skipped)
    lines += ["", f"Benchmark took {time.monotonic() - started:.0f} s."]
    common.write(REPORT, lines)
    return Report("Training time", REPORT, headlines(runs, skipped), time.monotonic() - started)


def main() -> None:
    common.load_at_start()  # before any work loads the machine
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nlu-only", action="store_true", help="skip the full training")
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        runs = [] if args.nlu_only else [full(Path(tmp))]
        runs.append(nlu(Path(tmp)))
        write(runs, started=started, skipped="--nlu-only" if args.nlu_only else None)


if __name__ == "__main__":
    main()
