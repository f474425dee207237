"""`make reload` against a real Rasa server: the model changes, the conversation stays.

The test runs its own Rasa server (free port, own conversation database) so that
replacing its model does not disturb the session server other tests talk to; it
shares the session's exchange and action server. The "newly trained" models are
copies of the trained model with a new model id in metadata.json: to Rasa that
is a different model, and no second training is needed.
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from scripts import reload
from tests.e2e.conftest import Chat
from tests.support.processes import PYTHON, ROOT, Service, free_port
from tests.support.prodstack import rasa_server_command


def model_with_new_id(source: Path, dest: Path) -> str:
    """Copy a Rasa model, giving it a fresh model id, as a new training would."""
    model_id = uuid.uuid4().hex
    with tarfile.open(source, "r:gz") as src, tarfile.open(dest, "w:gz", compresslevel=1) as out:
        for member in src.getmembers():
            if member.name == "metadata.json":
                metadata = json.load(src.extractfile(member))
                metadata["model_id"] = model_id
                raw = json.dumps(metadata).encode()
                member.size = len(raw)
                out.addfile(member, io.BytesIO(raw))
            else:
                out.addfile(member, src.extractfile(member) if member.isfile() else None)
    return model_id


def metadata_only_model(path: Path) -> None:
    with tarfile.open(path, "w:gz") as archive:
        raw = json.dumps({"model_id": uuid.uuid4().hex}).encode()
        member = tarfile.TarInfo("metadata.json")
        member.size = len(raw)
        archive.addfile(member, io.BytesIO(raw))


def model_id_in(path: Path) -> str:
    with tarfile.open(path, "r:gz") as archive:
        return json.load(archive.extractfile("metadata.json"))["model_id"]


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, "-m", "scripts.reload", *args],
        cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=900,
    )  # fmt: skip


def assert_plain(result: subprocess.CompletedProcess, words: str, code: int) -> None:
    """One clear Chinese sentence, no traceback."""
    assert result.returncode == code, result.stdout + result.stderr
    assert words in result.stdout, result.stdout
    assert len(result.stdout.strip().splitlines()) == 1, result.stdout
    assert "Traceback" not in result.stdout + result.stderr


@pytest.fixture(scope="module")
def models(trained_model: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("models")
    first = folder / "first.tar.gz"
    first.write_bytes(trained_model.read_bytes())
    second, third = folder / "second.tar.gz", folder / "third.tar.gz"
    model_with_new_id(trained_model, second)
    model_with_new_id(trained_model, third)
    return {"first": first, "second": second, "third": third}


@pytest.fixture(scope="module")
def own_rasa(
    stack_env: dict[str, str],
    action_server: Service,
    models: dict[str, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, str]]:
    """A Rasa server of this module's own; yields the environment `make reload` reads."""
    port = free_port()
    var = tmp_path_factory.mktemp("reload-var")
    env = {
        **stack_env,
        "RASA_PORT": str(port),
        "RASA_URL": f"http://127.0.0.1:{port}",
        "TRACKER_URL": f"sqlite:///{var}/tracker.db",
        "RASA_MODEL": str(models["first"]),
    }
    args = rasa_server_command(model=models["first"], token=env["RASA_TOKEN"], port=port)
    with Service("rasa-reload", args, port, env=env, health_path="/", startup_timeout=300):
        yield env


def status(env: dict[str, str]) -> dict:
    response = httpx.get(
        f"{env['RASA_URL']}/status", params={"token": env["RASA_TOKEN"]}, timeout=60
    )
    response.raise_for_status()
    return response.json()


@pytest.mark.slow
def test_reload_keeps_a_half_finished_form(own_rasa, models):
    env = own_rasa
    assert status(env)["model_file"] == "first.tar.gz"
    chat = Chat(env["RASA_URL"], env["RASA_TOKEN"])
    reply = chat.say("我想找办事大厅")
    assert "哪个城市" in reply
    assert chat.slot("requested_slot") == "city"

    # Reload from Python, as scripts/reload.py's function.
    done = reload.reload_model(
        rasa_url=env["RASA_URL"], token=env["RASA_TOKEN"], model=models["second"]
    )
    assert not done.already_serving and done.model_id == model_id_in(models["second"])
    assert "新模型已经用上了（second.tar.gz" in done.sentence()
    now = status(env)
    assert (now["model_file"], now["model_id"]) == ("second.tar.gz", done.model_id)

    # The same conversation goes on where it stopped: the city answers the open question.
    reply = chat.say("成都")
    assert chat.slot("city") == "成都市"
    assert chat.slot("requested_slot") == "service"
    assert "办什么事" in reply and chat.buttons()

    # Reload with the command line `make reload` runs, mid-form again.
    result = run_cli(env, "--model", str(models["third"]))
    assert_plain(result, "新模型已经用上了（third.tar.gz", 0)
    now = status(env)
    assert (now["model_file"], now["model_id"]) == ("third.tar.gz", model_id_in(models["third"]))

    reply = chat.say("都可以")
    assert "成都" in reply and "地址" in reply and "时间" in reply
    tracker = chat.tracker()
    said = [e["text"] for e in tracker["events"] if e["event"] == "user"]
    assert said == ["我想找办事大厅", "成都", "都可以"]  # one conversation throughout

    # Asking again for the model already serving changes nothing and says so.
    result = run_cli(env, "--model", str(models["third"]))
    assert_plain(result, "已经是这个模型（third.tar.gz）", 0)


@pytest.mark.slow
def test_wrong_token_is_refused_plainly_and_changes_nothing(own_rasa, models):
    before = status(own_rasa)
    result = run_cli({**own_rasa, "RASA_TOKEN": "not-the-token"}, "--model", str(models["first"]))
    assert_plain(result, "口令不对", 1)
    assert "RASA_TOKEN" in result.stdout
    assert status(own_rasa) == before


@pytest.mark.slow
def test_a_model_the_server_cannot_load_leaves_the_old_one_serving(own_rasa, tmp_path):
    before = status(own_rasa)
    broken = tmp_path / "broken.tar.gz"
    metadata_only_model(broken)  # a readable id, but nothing Rasa can run
    result = run_cli(own_rasa, "--model", str(broken))
    assert_plain(result, "没能加载新模型，原来的模型还在照常工作", 1)
    assert status(own_rasa) == before
    chat = Chat(own_rasa["RASA_URL"], own_rasa["RASA_TOKEN"])
    assert "哪个城市" in chat.say("我想找办事大厅")  # still answering with the old model


def test_server_not_running_is_told_plainly(tmp_path):
    model = tmp_path / "model.tar.gz"
    metadata_only_model(model)
    env = {"RASA_URL": f"http://127.0.0.1:{free_port()}", "RASA_TOKEN": "any"}
    result = run_cli(env, "--model", str(model))
    assert_plain(result, "连不上助手服务", 1)
    assert "make run" in result.stdout


def test_a_server_that_does_not_answer_is_told_plainly(tmp_path):
    model = tmp_path / "model.tar.gz"
    metadata_only_model(model)
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        env = {"RASA_URL": f"http://127.0.0.1:{port}", "RASA_TOKEN": "any"}
        result = run_cli(env, "--model", str(model), "--timeout", "2")
    assert_plain(result, "没有回答，可能正忙", 1)


def test_missing_model_is_told_plainly(tmp_path):
    env = {"RASA_URL": f"http://127.0.0.1:{free_port()}", "RASA_TOKEN": "any"}
    result = run_cli(env, "--model", str(tmp_path / "nothing.tar.gz"))
    assert_plain(result, "还没有训练好的模型", 1)
    assert "make train" in result.stdout


def test_a_broken_model_file_is_told_plainly(tmp_path):
    broken = tmp_path / "half.tar.gz"
    broken.write_bytes(b"not a model")
    env = {"RASA_URL": f"http://127.0.0.1:{free_port()}", "RASA_TOKEN": "any"}
    result = run_cli(env, "--model", str(broken))
    assert_plain(result, "打不开", 1)
