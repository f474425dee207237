"""Run the Rasa test stories of this folder against the trained model.

``rasa test core`` replays each story and checks that the dialogue policies
predict every bot action in it (forms, rules, custom actions). It does not run
the custom actions: tests/e2e does that against the real action server.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support.processes import PYTHON, ROOT

pytestmark = pytest.mark.slow

STORIES = Path(__file__).resolve().parent
RASA = str(Path(PYTHON).with_name("rasa"))


def test_every_story_is_predicted(trained_model: Path, tmp_path: Path):
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [RASA, "test", "core", "--model", str(trained_model), "--stories", str(STORIES),
         "--out", str(tmp_path), "--fail-on-prediction-errors"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    failed = (tmp_path / "failed_test_stories.yml").read_text(encoding="utf-8")
    assert "None of the test stories failed" in failed, failed
    assert "story:" not in failed, failed
