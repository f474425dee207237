"""Train the Rasa model only when its inputs changed.

Rasa has its own fingerprinting, but even deciding "nothing changed" costs it
tens of seconds of imports. We hash bot/ and the training data ourselves and
skip the whole call when the last trained model matches.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
MODEL_NAME = "assistant"
MODEL_FILE = MODELS / f"{MODEL_NAME}.tar.gz"
FINGERPRINT = MODELS / f"{MODEL_NAME}.fingerprint"
CONFIG = ROOT / "bot" / "config.yml"
DOMAIN = ROOT / "bot" / "domain"
# Everything Rasa trains on. data/demo and data/regions are not training data.
TRAINING_DATA = [ROOT / "data" / "nlu", ROOT / "data" / "dialogue"]
# Code that runs inside the NLU pipeline changes the model too.
PIPELINE_CODE = [ROOT / "nluext", ROOT / "common"]


def _files(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            found.extend(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    return sorted(found)


def fingerprint() -> str:
    digest = hashlib.sha256()
    for path in _files([CONFIG, DOMAIN, *TRAINING_DATA, *PIPELINE_CODE]):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def needs_training() -> bool:
    return not (
        MODEL_FILE.exists()
        and FINGERPRINT.exists()
        and FINGERPRINT.read_text().strip() == fingerprint()
    )


def train(*, force: bool = False) -> float | None:
    """Train if needed; return the training time in seconds, or None when skipped."""
    if not force and not needs_training():
        print(f"[train] model is up to date: {MODEL_FILE.relative_to(ROOT)}")
        return None
    MODELS.mkdir(exist_ok=True)
    # Two test runs (or a test run and `make train`) must not write the same
    # model file at once: the second waits, then finds the model up to date.
    with (MODELS / ".train.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not force and not needs_training():
            print(f"[train] model is up to date: {MODEL_FILE.relative_to(ROOT)}")
            return None
        return _train()


def _train() -> float:
    wanted = fingerprint()
    command = [
        str(Path(sys.executable).with_name("rasa")),
        "train",
        "--config", str(CONFIG),
        "--domain", str(DOMAIN),
        "--data", *(str(p) for p in TRAINING_DATA if p.exists()),
        "--out", str(MODELS),
        "--fixed-model-name", MODEL_NAME,
        "--force",
    ]  # fmt: skip
    print("[train] training the Rasa model (bot/ or data/ changed)")
    started = time.monotonic()
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "PYTHONPATH": str(ROOT)}
    subprocess.run(command, cwd=ROOT, env=env, check=True)  # noqa: S603 - fixed argv
    elapsed = time.monotonic() - started
    FINGERPRINT.write_text(wanted + "\n")
    print(f"[train] done in {elapsed:.0f} s: {MODEL_FILE.relative_to(ROOT)}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--force", action="store_true", help="train even when nothing changed")
    parser.add_argument("--check", action="store_true", help="exit 1 when training is needed")
    args = parser.parse_args()
    if args.check:
        sys.exit(1 if needs_training() else 0)
    try:
        train(force=args.force)
    except subprocess.CalledProcessError as error:
        sys.exit(f"[train] rasa train failed (exit {error.returncode}); see the messages above.")


if __name__ == "__main__":
    main()
