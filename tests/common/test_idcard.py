import pytest

from common import idcard

DEMO_IDS = [
    "110105194903120021",
    "510107194509150078",
    "370202195811200066",
    "420106195006060018",
    "44010619520408003X",
    "320102195507220041",
]


@pytest.mark.parametrize("number", DEMO_IDS)
def test_demo_ids_are_valid(number):
    assert idcard.problem(number) is None
    assert idcard.check_digit(number[:17]) == number[17]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("11010519490312002", "length"),
        ("1101051949031200211", "length"),
        ("11010519490312002A", "characters"),
        ("010105194903120021", "characters"),
        ("110105194913120021", "birth_date"),
        ("110105194902300021", "birth_date"),
        ("110105194903120022", "check_digit"),
        ("", "length"),
    ],
)
def test_problems_are_named(value, reason):
    assert idcard.problem(value) == reason


def test_lowercase_x_and_spaces_are_accepted():
    assert idcard.is_valid("440106 19520408 003x")
    assert idcard.normalise("440106-19520408-003x") == "44010619520408003X"


def test_mask_keeps_first_six_and_last_four():
    assert idcard.mask("110105194903120021") == "110105********0021"
    assert idcard.mask("123") == "***"


def test_groups_for_read_back():
    assert idcard.groups("110105194903120021") == ["110105", "19490312", "0021"]


def test_birth_date_and_gender():
    assert idcard.birth_date("510107194509150078").isoformat() == "1945-09-15"
    assert idcard.gender("510107194509150078") == "M"
    assert idcard.gender("110105194903120021") == "F"


def test_mask_in_text_finds_numbers_in_sentences():
    text = "我的身份证是110105194903120021，电话13800138000"
    assert idcard.mask_in_text(text) == "我的身份证是110105********0021，电话13800138000"
