"""Put the newest trained model into the running assistant, without a restart (`make reload`).

    make train && make reload

Asks the running Rasa server (RASA_URL, with RASA_TOKEN; same defaults and
.env as `make run`) to load models/assistant.tar.gz (or RASA_MODEL) with
`PUT /model`, waits while it loads, and checks with `GET /status` that the
server now serves that model (by the model id Rasa gave it in training). Ongoing
conversations are kept: they live in the tracker store, not in the model, so a
half-finished form goes on where it stopped.

The server reads the model file from its own disk, so it has to run on this
machine (as with `make run`). Rasa loads the model inside its request loop:
for that time (about a minute on 2 busy cores) it answers nobody, then the new
model serves. If loading fails the old model keeps serving.

Prints one plain sentence in Chinese for the trainer; exit status 0 when the
new model is serving, 1 when not.
"""

from __future__ import annotations

import argparse
import json
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from scripts import train

ROOT = Path(__file__).resolve().parent.parent
# Loading our model takes about a minute on 2 busy cores; the server answers nobody meanwhile.
DEFAULT_TIMEOUT = 600.0
STATUS_TIMEOUT = 30.0


class ReloadError(Exception):
    """Why the new model is not serving, in one sentence for the trainer."""


@dataclass
class Reloaded:
    model_file: str
    model_id: str
    seconds: float
    already_serving: bool = False

    def sentence(self) -> str:
        if self.already_serving:
            return f"助手正在用的已经是这个模型（{self.model_file}），不用重新加载。"
        return (
            f"新模型已经用上了（{self.model_file}，用了 {self.seconds:.0f} 秒）。"
            "正在进行的对话不受影响，会接着往下办。"
        )


def not_running(url: str) -> ReloadError:
    return ReloadError(
        f"连不上助手服务（{url}）：它好像没有在运行。请先用 make run 启动，再试一次。"
    )


def wrong_token() -> ReloadError:
    return ReloadError(
        "助手服务不让加载：口令不对。请检查 .env 里的 RASA_TOKEN 和助手启动时用的是不是同一个。"
    )


def no_api() -> ReloadError:
    return ReloadError(
        "助手服务没有打开管理接口，不能换模型。请用 make run 启动（它会打开这个接口），再试一次。"
    )


def model_id_of(model: Path) -> str:
    """The id Rasa gave the model when it was trained (metadata.json in the archive)."""
    if not model.is_file():
        raise ReloadError(f"还没有训练好的模型（{model}）：请先运行 make train。")
    try:
        with tarfile.open(model, "r:gz") as archive:
            member = archive.extractfile("metadata.json")
            if member is None:
                raise KeyError("metadata.json")
            return str(json.load(member)["model_id"])
    except (tarfile.TarError, OSError, KeyError, ValueError) as error:
        raise ReloadError(
            f"模型文件（{model}）打不开，可能没有训练完或者坏了：请重新运行 make train。"
        ) from error


def _checked(response: httpx.Response) -> httpx.Response:
    if response.status_code in (401, 403):
        raise wrong_token()
    if response.status_code in (404, 405):
        raise no_api()
    return response


def _busy(seconds: float) -> ReloadError:
    return ReloadError(
        f"助手服务 {seconds:.0f} 秒内没有回答，可能正忙（例如正在加载模型）。请过一会儿再试。"
    )


def server_status(client: httpx.Client, url: str, token: str) -> dict[str, Any] | None:
    """What the server is serving; None when it runs without any model."""
    try:
        response = _checked(client.get(f"{url}/status", params={"token": token}))
    except httpx.TimeoutException as error:
        raise _busy(client.timeout.read or 0) from error
    except httpx.TransportError as error:
        raise not_running(url) from error
    if response.status_code == 409:  # Rasa: "No agent loaded"
        return None
    if response.status_code != 200:
        raise ReloadError(f"助手服务回答异常（{response.status_code}），请看它的日志。")
    return response.json()


def _reason(response: httpx.Response) -> str:
    try:
        return str(response.json().get("message") or response.status_code)
    except ValueError:
        return str(response.status_code)


def reload_model(
    *,
    rasa_url: str,
    token: str,
    model: Path,
    timeout: float = DEFAULT_TIMEOUT,
    force: bool = False,
) -> Reloaded:
    """Load ``model`` into the Rasa server at ``rasa_url``; return once it serves it.

    Raises ReloadError with a sentence for the trainer when it does not.
    """
    url = rasa_url.rstrip("/")
    model = model.resolve()
    wanted = model_id_of(model)
    started = time.monotonic()
    with httpx.Client(timeout=min(STATUS_TIMEOUT, timeout)) as client:
        status = server_status(client, url, token)
        if not force and status and status.get("model_id") == wanted:
            return Reloaded(model.name, wanted, 0.0, already_serving=True)
        try:
            # Rasa answers only once the new model serves (or failed to load: then
            # the old one still does).
            response = _checked(
                client.put(
                    f"{url}/model",
                    params={"token": token},
                    json={"model_file": str(model)},
                    timeout=timeout,
                )
            )
        except httpx.TimeoutException as error:
            raise ReloadError(
                f"等了 {timeout:.0f} 秒还没有加载完。它可能还在加载："
                "过一会儿再运行 make reload 看看。"
            ) from error
        except httpx.TransportError as error:
            raise not_running(url) from error
        if response.status_code >= 400:
            raise ReloadError(
                f"助手服务没能加载新模型，原来的模型还在照常工作。服务说：{_reason(response)}"
            )
        status = server_status(client, url, token)
    if not status or status.get("model_id") != wanted:
        raise ReloadError("助手服务说加载好了，但它用的不是这个模型。请看它的日志。")
    return Reloaded(model.name, wanted, time.monotonic() - started)


def settings() -> dict[str, str]:
    """RASA_URL, RASA_TOKEN and RASA_MODEL as `make run` sets them (.env, then defaults)."""
    from scripts.run import load_environment

    return load_environment()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="model file (default: RASA_MODEL)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds")
    parser.add_argument("--force", action="store_true", help="load even if already serving it")
    args = parser.parse_args(argv)
    env = settings()
    # RASA_MODEL is relative to the project, as in the Procfile; --model to where you are.
    model = args.model.resolve() if args.model else ROOT / env["RASA_MODEL"]
    if model == train.MODEL_FILE and model.exists() and train.needs_training():
        print("注意：训练数据改过了，这个模型还是改之前训练的；要用上新数据，请先运行 make train。")
    try:
        result = reload_model(
            rasa_url=env["RASA_URL"],
            token=env["RASA_TOKEN"],
            model=model,
            timeout=args.timeout,
            force=args.force,
        )
    except ReloadError as error:
        print(error)
        return 1
    print(result.sentence())
    return 0


if __name__ == "__main__":
    sys.exit(main())
