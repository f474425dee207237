from textwrap import dedent

import pytest

from scripts import check_data


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dedent(text), encoding="utf-8")
    return path


def _examples(prefix, count):
    return "\n".join(f"            - {prefix}第{i}句" for i in range(count))


@pytest.fixture
def project(tmp_path):
    _write(
        tmp_path / "domain" / "nlu.yml",
        """\
        version: "3.1"
        entities:
          - city
          - province
        """,
    )
    _write(
        tmp_path / "domain" / "replies.yml",
        """\
        version: "3.1"
        responses:
          utter_greet:
          - text: "您好。我是政务服务助手。"
            buttons:
            - title: "1. 找办事大厅"
              payload: /find_service_hall
        """,
    )
    return tmp_path


def run(project):
    return check_data.check(project / "nlu", project / "domain")


def test_clean_data_has_no_problems(project):
    _write(
        project / "nlu" / "greet.yml",
        f"""\
        version: "3.1"
        nlu:
        - intent: greet
          examples: |
{_examples("你好", 25)}
        """,
    )
    assert run(project) == []


def test_the_same_sentence_in_two_intents_is_an_error_with_both_places(project):
    _write(
        project / "nlu" / "a.yml",
        f"""\
        nlu:
        - intent: greet
          examples: |
            - 我想找人问问
{_examples("你好", 25)}
        """,
    )
    _write(
        project / "nlu" / "b.yml",
        f"""\
        nlu:
        - intent: request_human
          examples: |
{_examples("人工", 25)}
            - 我想找人问问。
        """,
    )
    problems = run(project)
    assert len(problems) == 1
    problem = problems[0]
    assert problem.severity == "错误"
    assert problem.path.name == "b.yml" and problem.line == 29
    assert "greet" in problem.message and "a.yml 第 4 行" in problem.message


def test_too_few_examples_is_an_error_and_a_few_more_a_warning(project):
    _write(
        project / "nlu" / "a.yml",
        f"""\
        nlu:
        - intent: thank
          examples: |
{_examples("谢谢", 5)}
        - intent: goodbye
          examples: |
{_examples("再见", 15)}
        """,
    )
    problems = {p.message.split(" ")[1]: p.severity for p in run(project)}
    assert problems == {"thank": "错误", "goodbye": "提醒"}


def test_broken_annotation_and_unknown_entity_are_named(project):
    _write(
        project / "nlu" / "a.yml",
        f"""\
        nlu:
        - intent: inform
          examples: |
            - 我在[成都(city)
            - 我在[成都](town)
{_examples("我在", 25)}
        """,
    )
    problems = run(project)
    lines = {p.line: p.message for p in problems}
    assert 4 in lines and "没有配对" in lines[4]
    assert 5 in lines and "town" in lines[5]


LONG = "您好，请您把您的身份证号码、手机号码后四位和您现在居住的省份城市" + (
    "以及您想要办理的业务名称一起告诉我，我好帮您查一查能不能在这里办好吗"
)


def test_long_english_or_jargon_responses_are_errors(project):
    _write(
        project / "domain" / "bad.yml",
        f"""\
        responses:
          utter_long:
          - text: "{LONG}"
          utter_english:
          - text: "请稍等，正在 loading。"
          utter_jargon:
          - text: "系统超时了，{{name}}，请再试一次。"
        """,
    )
    problems = run(project)
    by_line = {p.line: p.message for p in problems}
    assert "太长了" in by_line[3]
    assert "loading" in by_line[5]
    assert "超时" in by_line[7]


def test_placeholders_are_not_english(project):
    _write(
        project / "domain" / "ok.yml",
        """\
        responses:
          utter_number:
          - text: "您的申请号是 {application_number}。"
        """,
    )
    assert run(project) == []
