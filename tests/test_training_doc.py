"""docs/TRAINING.md cannot rot: every file, folder, module and `make` target it names
exists, and it names every service's training files."""

from __future__ import annotations

import re

import pytest

from tests.support.processes import ROOT

DOC = ROOT / "docs" / "TRAINING.md"
# The doc's made-up example of a new simple intent: a file a trainer would create.
EXAMPLE_ONLY = {"data/nlu/ask_hotline.yml"}

_FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
_INLINE = re.compile(r"`([^`\n]+)`")
_PATH = re.compile(r"^(?:[A-Za-z0-9_.-]+/)+[A-Za-z0-9_.-]*$")
_MAKE = re.compile(r"^make ([A-Za-z0-9_-]+)")
_MODULE = re.compile(r"-m ([A-Za-z_][A-Za-z0-9_.]*)")
_TARGET = re.compile(r"^([A-Za-z0-9_-]+):", re.MULTILINE)


def _doc() -> str:
    return DOC.read_text(encoding="utf-8")


def _spans() -> list[str]:
    """Inline code, and each line of the fenced shell blocks."""
    text = _doc()
    spans = [line.strip() for block in _FENCE.findall(text) for line in block.splitlines()]
    return spans + _INLINE.findall(_FENCE.sub("", text))


def _paths() -> set[str]:
    found = set()
    for span in _spans():
        for word in span.split():
            if _PATH.match(word) and not word.startswith(".venv/"):
                found.add(word)
    return found


def _make_targets() -> set[str]:
    return {m.group(1) for span in _spans() if (m := _MAKE.match(span))}


def test_the_doc_names_files_and_targets():
    # Guards the parsing itself: a broken regex must not make the other tests vacuous.
    assert len(_paths()) > 40
    assert {"check-data", "try", "train", "nlu-report", "reload"} <= _make_targets()


@pytest.mark.parametrize("path", sorted(_paths() - EXAMPLE_ONLY))
def test_every_path_exists(path):
    assert (ROOT / path).exists(), f"docs/TRAINING.md names {path}, which does not exist"


def test_example_only_files_are_really_examples():
    assert all(not (ROOT / path).exists() for path in EXAMPLE_ONLY)
    assert EXAMPLE_ONLY <= _paths()


def test_every_make_target_exists():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(_TARGET.findall(makefile))
    # `make reload` (hot model reload) is wired by the lead; until then it is the one
    # target the doc may name ahead of the Makefile.
    allowed = {"reload"} - targets
    assert sorted(_make_targets() - targets - allowed) == []


def test_every_module_run_with_python_m_exists():
    modules = {m for span in _spans() for m in _MODULE.findall(span)}
    assert modules, "the doc names no python -m command"
    for module in modules:
        path = ROOT / module.replace(".", "/")
        assert path.with_suffix(".py").exists() or (path / "__main__.py").exists(), module


@pytest.mark.parametrize("folder", ["data/nlu", "data/dialogue", "bot/domain"])
def test_every_service_file_is_in_the_doc(folder):
    # A new service's files must be added to the tables, or trainers will not find them.
    named = _paths()
    missing = [
        f"{folder}/{path.name}"
        for path in sorted((ROOT / folder).glob("*.yml"))
        if f"{folder}/{path.name}" not in named
    ]
    assert missing == []


def test_chinese_first_then_english():
    text = _doc()
    chinese, english = text.index("\n## 中文"), text.index("\n## English")
    assert chinese < english
    # The same sections in both halves.
    count = len(re.findall(r"^### \d+\.", text[chinese:english], re.MULTILINE))
    assert count == len(re.findall(r"^### \d+\.", text[english:], re.MULTILINE)) >= 10
