"""Place extraction rules (nluext.places) over the generated lookup tables."""

import logging

import jieba
import pytest

from nluext import lookups
from nluext.places import PlaceMatcher


@pytest.fixture(scope="module")
def matcher():
    base = PlaceMatcher.from_regions()
    return PlaceMatcher({**base.names, "蓉城": ("city", "成都市")})


@pytest.fixture(scope="module")
def tokens():
    jieba.setLogLevel(logging.ERROR)
    tokenizer = jieba.Tokenizer()
    for path in sorted(lookups.JIEBA_FILE.parent.glob("*")):
        tokenizer.load_userdict(str(path))
    return lambda text: [(s, e) for _, s, e in tokenizer.tokenize(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("俺想把老保从四川转到广州去", [("province", "四川省"), ("city", "广州市")]),
        ("从川转到粤", [("province", "四川省"), ("province", "广东省")]),
        ("在沪上班", [("province", "上海市")]),
        ("吉林市", [("city", "吉林市")]),
        ("我在吉林", [("province", "吉林省")]),
        ("北京", [("province", "北京市")]),
        ("上海市浦东", [("province", "上海市")]),
        ("海南", [("province", "海南省")]),
        ("凉山彝族自治州", [("city", "凉山彝族自治州")]),
        ("去凉山看病", [("city", "凉山彝族自治州")]),
        ("江苏南京", [("province", "江苏省"), ("city", "南京市")]),
        ("内蒙古包头", [("province", "内蒙古自治区"), ("city", "包头市")]),
        ("广西南宁", [("province", "广西壮族自治区"), ("city", "南宁市")]),
        ("蓉城", [("city", "成都市")]),
        ("安康市", [("city", "安康市")]),
    ],
)
def test_places_found(matcher, tokens, text, expected):
    assert [(p.entity, p.value) for p in matcher.find(text, tokens(text))] == expected


@pytest.mark.parametrize(
    "text",
    [
        "我想把社保转回老家",
        "非常德高望重",
        "北京路那边的办事大厅",
        "我要申请新的社保卡",
        "这个太贵了",
        "祝您安康",
        "王桂兰是我妈",
        "川菜好吃",
        "会说四川话",
    ],
)
def test_no_false_places(matcher, tokens, text):
    assert matcher.find(text, tokens(text)) == []


def test_places_report_their_position(matcher, tokens):
    text = "俺想把老保从四川转到广州去"
    places = matcher.find(text, tokens(text))
    assert [text[p.start : p.end] for p in places] == ["四川", "广州"]


def test_without_tokens_abbreviations_still_need_context():
    matcher = PlaceMatcher.from_regions()
    assert [p.value for p in matcher.find("从川转到粤")] == ["四川省", "广东省"]
    assert matcher.find("我在新的地方") == []
    assert matcher.find("申请社保卡") == []
