"""The setup script's one clear sentence when no Python 3.10 can be found."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="needs a Debian system")
def test_missing_python_is_explained_in_one_sentence(tmp_path):
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "bootstrap.sh", tmp_path / "scripts" / "bootstrap.sh")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    # No python3.10 on this PATH, no pyenv in this HOME, no $PYTHON.
    if any(Path(d, "python3.10").exists() for d in env["PATH"].split(os.pathsep)):
        pytest.skip("this machine has a system python3.10 on /usr/bin")
    result = subprocess.run(
        ["bash", "scripts/bootstrap.sh"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "Python 3.10 was not found" in result.stderr
    assert "PYTHON=" in result.stderr
    assert not (tmp_path / ".venv").exists()


def test_a_broken_shim_is_not_taken_for_python(tmp_path):
    shim = tmp_path / "bin" / "python3.10"
    shim.parent.mkdir()
    shim.write_text("#!/bin/sh\necho 'pyenv: python3.10: command not found' >&2\nexit 127\n")
    shim.chmod(0o755)
    script = (ROOT / "scripts" / "bootstrap.sh").read_text()
    works = script[script.index("works()") : script.index("\n", script.index("works()"))]
    result = subprocess.run(["bash", "-c", f"{works}\nworks {shim}"], capture_output=True)
    assert result.returncode != 0
