"""The shared digit/ID normaliser (nluext.digits): spoken, typed and recognised numbers."""

import pytest

from common import idcard
from nluext import digits


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("幺幺零幺零五 一九四九零三幺二 洞洞两幺", "110105194903120021"),
        ("一 一 零 一 零 五 一 九 四 九 零 三 一 二 零 零 二 一", "110105194903120021"),
        ("１１０１０５１９４９０３１２００２１", "110105194903120021"),
        ("110105-19490312-0021", "110105194903120021"),
        ("幺幺零幺零五，嗯，一九四九零三幺二，洞洞两幺", "110105194903120021"),
        ("我今年七十二，住三号楼", "我今年72，住3号楼"),
        ("一百零五", "105"),
        ("二十三", "23"),
        ("十五号", "15号"),
        ("两百", "200"),
        ("三月五号", "3月5号"),
    ],
)
def test_normalise_digits(text, expected):
    assert digits.normalise_digits(text) == expected


@pytest.mark.parametrize(
    "text",
    ["一个人两天", "十分感谢", "老百姓", "说慢一点", "我要办社保卡", "", "一下子"],
)
def test_words_with_digit_characters_stay_words(text):
    assert digits.normalise_digits(text) == text


def test_two_short_numbers_with_units_are_not_glued_together():
    assert digits.normalise_digits("二十三 四十五") == "23 45"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("幺幺零幺零五 一九四九零三幺二 洞洞两幺", "110105194903120021"),
        ("我身份证号是110105194903120021", "110105194903120021"),
        ("四四零幺零六 幺九五二零四零八 零零三叉", "44010619520408003X"),
        ("四四零幺零六幺九五二零四零八零零三 艾克斯", "44010619520408003X"),
        ("44010619520408003x", "44010619520408003X"),
        ("号码是 510107 19450915 0078 您记一下", "510107194509150078"),
    ],
)
def test_extract_id_number(text, expected):
    assert digits.extract_id_number(text) == expected
    assert idcard.is_valid(expected)


@pytest.mark.parametrize(
    "text",
    ["幺幺零幺零五 一九四九零三幺二 洞洞两", "我的身份证丢了", "1101051949031200211", "尾号1357"],
)
def test_no_id_number_when_there_is_none(text):
    assert digits.extract_id_number(text) is None


def test_id_number_span_points_at_the_spoken_text():
    text = "号码是幺幺零幺零五 一九四九零三幺二 洞洞两幺吧"
    span = digits.find_id_number(text)
    assert span is not None
    assert text[span.start : span.end] == "幺幺零幺零五 一九四九零三幺二 洞洞两幺"


def test_invalid_check_digit_is_still_extracted_for_the_caller_to_explain():
    number = digits.extract_id_number("幺幺零幺零五一九四九零三幺二洞洞两两")
    assert number == "110105194903120022"
    assert idcard.problem(number) == "check_digit"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("尾号幺三五七", "1357"),
        ("手机后四位是 一三 五七", "1357"),
        ("幺三五七", "1357"),
        ("幺三五七吧", "1357"),
        ("是1357", "1357"),
        ("我电话13912345678", "5678"),
        ("139 1234 5678", "5678"),
    ],
)
def test_extract_phone_last4(text, expected):
    assert digits.extract_phone_last4(text) == expected


@pytest.mark.parametrize(
    "text", ["我1949年生的", "今年2024", "养老金3000块", "我今天去了趟医院", "尾号幺三五"]
)
def test_years_amounts_and_short_numbers_are_not_phone_digits(text):
    assert digits.extract_phone_last4(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sb20240001", "SB20240001"),
        ("申请号是 SB 2024 0001", "SB20240001"),
        ("受理号艾斯比二零二四零零零幺", "SB20240001"),
        ("编号 诶比 幺二三四五六七八", "AB12345678"),
        ("ＹＬ２０２４００１２", "YL20240012"),
    ],
)
def test_extract_application_number(text, expected):
    assert digits.extract_application_number(text) == expected


@pytest.mark.parametrize(
    "text", ["20240001", "ABC20240001", "SB2024001", "我的申请号忘了", "比二零二四零零零幺"]
)
def test_no_application_number_without_two_letters_and_eight_digits(text):
    assert digits.extract_application_number(text) is None


def test_find_numbers_reports_positions_in_the_original_text():
    text = "我七十二岁，尾号幺三五七"
    spans = digits.find_numbers(text)
    assert [(text[s.start : s.end], s.value) for s in spans] == [
        ("七十二", "72"),
        ("幺三五七", "1357"),
    ]
