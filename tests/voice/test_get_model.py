"""`make model` (scripts/get_model.sh) without the network: what it checks before unpacking."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.processes import ROOT

SCRIPT = ROOT / "scripts" / "get_model.sh"


def run(tmp_path: Path, model: Path) -> subprocess.CompletedProcess:
    env = {
        "PATH": "/usr/bin:/bin",
        "VOSK_MODEL_PATH": str(model),
        "VOSK_DOWNLOAD_DIR": str(tmp_path / "dl"),
    }
    return subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60
    )


def test_an_unpacked_model_is_left_alone(tmp_path: Path) -> None:
    model = tmp_path / "vosk-model-small-cn-0.22"
    (model / "am").mkdir(parents=True)
    (model / "am" / "final.mdl").write_bytes(b"model")
    done = run(tmp_path, model)
    assert done.returncode == 0 and "already there" in done.stdout


def test_a_zip_with_the_wrong_checksum_is_deleted_not_unpacked(tmp_path: Path) -> None:
    (tmp_path / "dl").mkdir()
    fake = tmp_path / "dl" / "vosk-model-small-cn-0.22.zip"
    fake.write_bytes(b"not the model")
    model = tmp_path / "model"
    done = run(tmp_path, model)
    assert done.returncode == 1
    assert "3af8b0e7e0f835ae9d414ce5df580237a3cfb08d586c9fbbb0f7ff29ad5b14ba" in done.stderr
    assert not fake.exists() and not model.exists()
