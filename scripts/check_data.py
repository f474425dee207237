"""Check the training data and responses the way a careful reviewer would.

`make check-data` runs this after `rasa data validate`. It is written for
trainers: every problem names the file and line and says in plain words how to
fix it. Errors fail the check (and CI); warnings are advice.

    python -m scripts.check_data            # check data/nlu and bot/domain
    python -m scripts.check_data --nlu DIR --domain DIR
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import yaml
from rasa.shared.exceptions import InvalidEntityFormatException
from rasa.shared.nlu.training_data.entities_parser import (
    find_entities_in_training_example,
    replace_entities,
)

ROOT = Path(__file__).resolve().parent.parent

# Fewer examples than this and the model cannot learn the intent reliably.
MIN_EXAMPLES_ERROR = 10
MIN_EXAMPLES_WARNING = 20
# A sentence longer than this is hard to follow when spoken to an older listener.
MAX_SENTENCE_CHARS = 60
SENTENCE_END = re.compile(r"[。！？!?；;\n]+")
PLACEHOLDER = re.compile(r"\{[^{}]*\}")
LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
# Jargon an older citizen should never hear, with a plain replacement.
JARGON = {
    "接口": "换个说法，比如“系统”",
    "参数": "说清楚要什么，比如“身份证号”",
    "字段": "说清楚要什么，比如“姓名”",
    "意图": "不要提到模型内部的词",
    "槽位": "不要提到模型内部的词",
    "实体": "不要提到模型内部的词",
    "异常": "“出了点问题”",
    "报错": "“出了点问题”",
    "超时": "“有点慢”",
    "数据库": "“系统”",
    "服务器": "“系统”",
    "无效": "“不对”",
    "格式错误": "“好像不对”",
    "请求失败": "“没有办成”",
    "链接": "不要让老人点链接",
    "网址": "不要让老人记网址",
    "二维码": "老人常常不会扫码，换个办法",
}


@dataclass(frozen=True)
class Problem:
    path: Path
    line: int
    severity: str  # "错误" (error) or "提醒" (warning)
    message: str

    def __str__(self) -> str:
        try:
            where = self.path.relative_to(ROOT)
        except ValueError:
            where = self.path
        return f"{where}:{self.line}: {self.severity}: {self.message}"


@dataclass(frozen=True)
class Example:
    intent: str
    text: str
    plain: str
    path: Path
    line: int


def _yaml_nodes(path: Path) -> yaml.Node | None:
    with path.open(encoding="utf-8") as handle:
        return yaml.compose(handle, Loader=yaml.SafeLoader)


def _mapping_get(node: yaml.Node, key: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if k.value == key:
                return v
    return None


def _block_lines(node: yaml.ScalarNode) -> list[tuple[int, str]]:
    """(1-based line, text) of each `- example` line in a literal block."""
    lines = []
    first = node.start_mark.line + 2 if node.style in ("|", ">") else node.start_mark.line + 1
    for offset, raw in enumerate(node.value.splitlines()):
        stripped = raw.strip()
        if stripped.startswith("- "):
            lines.append((first + offset, stripped[2:].strip()))
    return lines


def read_examples(nlu_dir: Path) -> tuple[list[Example], list[Problem], set[str]]:
    examples: list[Example] = []
    problems: list[Problem] = []
    used_entities: set[str] = set()
    for path in sorted(nlu_dir.rglob("*.yml")):
        try:
            root = _yaml_nodes(path)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            line = mark.line + 1 if mark else 1
            problems.append(Problem(path, line, "错误", f"文件格式不对，读不出来：{error}。"
                                    "检查这一行的缩进和冒号。"))  # fmt: skip
            continue
        items = _mapping_get(root, "nlu") if root else None
        if not isinstance(items, yaml.SequenceNode):
            continue
        for item in items.value:
            intent = _mapping_get(item, "intent")
            block = _mapping_get(item, "examples")
            if intent is None or not isinstance(block, yaml.ScalarNode):
                continue
            for line, text in _block_lines(block):
                try:
                    entities = find_entities_in_training_example(text)
                except (InvalidEntityFormatException, ValueError) as error:
                    problems.append(Problem(path, line, "错误", f"标注写错了（{error}）。"
                        "写法是 [四川](province) 这样："
                        "方括号里是原话，圆括号里是类型。"))  # fmt: skip
                    continue
                plain = replace_entities(text)
                if re.search(r"[\[\]]|\]\(", plain):
                    problems.append(Problem(path, line, "错误",
                        "方括号或圆括号没有配对，标注读不出来。"
                                            "写法是 [成都](city)。"))  # fmt: skip
                used_entities.update(e["entity"] for e in entities)
                examples.append(Example(intent.value, text, plain, path, line))
    return examples, problems, used_entities


def _normalised(text: str) -> str:
    return re.sub(r"[\s，。！？、,.!?~～…]+", "", text).lower()


def check_examples(examples: list[Example]) -> list[Problem]:
    problems: list[Problem] = []
    seen: dict[str, Example] = {}
    counts: dict[str, list[Example]] = defaultdict(list)
    for example in examples:
        counts[example.intent].append(example)
        key = _normalised(example.plain)
        if not key:
            problems.append(Problem(example.path, example.line, "错误", "这是一条空例句，请删掉。"))
            continue
        first = seen.get(key)
        if first is None:
            seen[key] = example
        elif first.intent != example.intent:
            problems.append(Problem(example.path, example.line, "错误",
                f"例句「{example.plain}」也写在意图 {first.intent} 里"
                f"（{first.path.name} 第 {first.line} 行）。同一句话只能属于一个意图，"
                "请删掉放错的那一条。"))  # fmt: skip
        else:
            problems.append(Problem(example.path, example.line, "提醒",
                f"例句「{example.plain}」重复了（第一次在 {first.path.name} 第 {first.line} 行）。"
                "删掉一条就行。"))  # fmt: skip
    for intent, items in sorted(counts.items()):
        first = items[0]
        if len(items) < MIN_EXAMPLES_ERROR:
            problems.append(Problem(first.path, first.line, "错误",
                f"意图 {intent} 只有 {len(items)} 个例句，至少要 {MIN_EXAMPLES_ERROR} 个，"
                f"最好 {MIN_EXAMPLES_WARNING} 个以上。请按老人平时的说法多写几句。"))  # fmt: skip
        elif len(items) < MIN_EXAMPLES_WARNING:
            problems.append(Problem(first.path, first.line, "提醒",
                f"意图 {intent} 只有 {len(items)} 个例句，"
                f"建议写到 {MIN_EXAMPLES_WARNING} 个以上。"))  # fmt: skip
    return problems


def _response_texts(path: Path) -> list[tuple[str, int, str]]:
    """(response name, 1-based line, text) for every text and button title."""
    root = _yaml_nodes(path)
    responses = _mapping_get(root, "responses") if root else None
    found = []
    if not isinstance(responses, yaml.MappingNode):
        return found
    for name_node, variants in responses.value:
        if not isinstance(variants, yaml.SequenceNode):
            continue
        for variant in variants.value:
            text = _mapping_get(variant, "text")
            if isinstance(text, yaml.ScalarNode):
                found.append((name_node.value, text.start_mark.line + 1, text.value))
            buttons = _mapping_get(variant, "buttons")
            for button in buttons.value if isinstance(buttons, yaml.SequenceNode) else []:
                title = _mapping_get(button, "title")
                if isinstance(title, yaml.ScalarNode):
                    found.append((name_node.value, title.start_mark.line + 1, title.value))
    return found


def domain_entities(domain_dir: Path) -> set[str]:
    names: set[str] = set()
    for path in sorted(domain_dir.rglob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for entity in data.get("entities", []) or []:
            names.add(entity if isinstance(entity, str) else next(iter(entity)))
    return names


def check_responses(domain_dir: Path) -> list[Problem]:
    problems: list[Problem] = []
    for path in sorted(domain_dir.rglob("*.yml")):
        for name, line, text in _response_texts(path):
            spoken = PLACEHOLDER.sub("", text)
            for sentence in SENTENCE_END.split(spoken):
                if len(sentence.strip()) > MAX_SENTENCE_CHARS:
                    problems.append(Problem(path, line, "错误",
                        f"{name} 有一句话 {len(sentence.strip())} 个字，太长了，老人听不过来。"
                        f"请拆成几句短话，每句不超过 {MAX_SENTENCE_CHARS} 个字。"))  # fmt: skip
            if words := LATIN_WORD.findall(spoken):
                problems.append(Problem(path, line, "错误",
                    f"{name} 里有英文「{' '.join(words)}」。请换成中文。"))  # fmt: skip
            for word, advice in JARGON.items():
                if word in spoken:
                    problems.append(Problem(path, line, "错误",
                        f"{name} 里有专业词「{word}」，老人听不懂。建议：{advice}。"))  # fmt: skip
    return problems


def check(nlu_dir: Path, domain_dir: Path) -> list[Problem]:
    examples, problems, used_entities = read_examples(nlu_dir)
    problems += check_examples(examples)
    known = domain_entities(domain_dir)
    for entity in sorted(used_entities - known):
        where = next(e for e in examples if f"({entity}" in e.text or f'"{entity}"' in e.text)
        problems.append(Problem(where.path, where.line, "错误",
            f"标注用了类型 {entity}，但领域文件里没有这个类型。"
            "请检查拼写，或者在 bot/domain/nlu.yml 的 entities 里加上它。"))  # fmt: skip
    problems += check_responses(domain_dir)
    return sorted(problems, key=lambda p: (p.severity != "错误", str(p.path), p.line))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nlu", type=Path, default=ROOT / "data" / "nlu")
    parser.add_argument("--domain", type=Path, default=ROOT / "bot" / "domain")
    args = parser.parse_args()
    problems = check(args.nlu, args.domain)
    for problem in problems:
        print(problem)
    errors = sum(p.severity == "错误" for p in problems)
    warnings = len(problems) - errors
    print(f"检查完毕：{errors} 个错误，{warnings} 个提醒。" + ("" if errors else "可以训练了。"))
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
