"""`rasa data validate`, failing on every warning but one that Rasa gets wrong.

Rasa warns "The utterance 'utter_x' is not used in any story or rule" for every
response that a custom action sends (``dispatcher.utter_message(response=...)``):
its validator only reads stories and rules. We accept that warning only for
responses that the code in actions/ names; a response used nowhere at all, and
every other warning or error, still fails the check (and `make check-data`).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMAND = [
    "data", "validate", "--domain", "bot/domain",
    "--data", "data/nlu", "data/dialogue", "--config", "bot/config.yml",
]  # fmt: skip
# Lines that mean trouble: Rasa's warnings (raise_warning), log levels, errors.
PROBLEM = re.compile(r"UserWarning|FutureWarning|\bWARNING\b|\bERROR\b|Error|error:", re.I)
UNUSED = re.compile(r"The utterance '(utter_\w+)' is not used in any story or rule")
RESPONSE_IN_CODE = re.compile(r"""["'](utter_\w+)["']""")
# Names the actions build, e.g. f"utter_ask_{slot}": the literal part is a prefix.
RESPONSE_PREFIX_IN_CODE = re.compile(r"""f["'](utter_\w*)\{""")


def responses_sent_by_actions(actions_dir: Path = ROOT / "actions") -> set[str]:
    """Response names in the actions' code; built names as ``prefix*``."""
    names: set[str] = set()
    for path in actions_dir.rglob("*.py"):
        code = path.read_text(encoding="utf-8")
        names.update(RESPONSE_IN_CODE.findall(code))
        names.update(f"{prefix}*" for prefix in RESPONSE_PREFIX_IN_CODE.findall(code))
    return names


def _sent(name: str, sent_by_actions: set[str]) -> bool:
    return name in sent_by_actions or any(
        pattern.endswith("*") and name.startswith(pattern[:-1]) for pattern in sent_by_actions
    )


def problems(output: str, sent_by_actions: set[str]) -> list[str]:
    found = []
    for line in output.splitlines():
        if not PROBLEM.search(line):
            continue
        unused = UNUSED.search(line)
        if unused and _sent(unused.group(1), sent_by_actions):
            continue
        found.append(line)
    return found


def validate() -> tuple[int, str, list[str]]:
    env = {
        **os.environ,
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        # Third-party import-time deprecation notices (pkg_resources, jax) are
        # not about our data; everything else is shown.
        "PYTHONWARNINGS": "ignore::DeprecationWarning",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
        "PYTHONPATH": str(ROOT),
    }
    rasa = str(Path(sys.executable).with_name("rasa"))
    result = subprocess.run(  # noqa: S603 - fixed argv
        [rasa, *COMMAND], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    output = result.stdout + result.stderr
    return result.returncode, output, problems(output, responses_sent_by_actions())


def main() -> None:
    returncode, output, found = validate()
    for line in found:
        print(line)
    if returncode != 0 or found:
        print(output[-3000:] if returncode else "")
        sys.exit(f"rasa data validate: {len(found)} problem(s), exit code {returncode}.")
    print("rasa data validate: no problems.")


if __name__ == "__main__":
    main()
