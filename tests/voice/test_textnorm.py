"""Reply text -> what espeak-ng reads: numbers, dates, amounts, symbols, polyphones."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from voice import textnorm
from voice.textnorm import cardinal, sentences, speakable, spoken_choices

VOICE = "cmn-latn-pinyin"
needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="espeak-ng is not installed"
)


def phonemes(text: str, voice: str = VOICE) -> str:
    done = subprocess.run(
        ["espeak-ng", "-v", voice, "-q", "-x", text], capture_output=True, text=True, check=True
    )
    return done.stdout


def bare(ph: str) -> str:
    """Phonemes without stress marks and word/pause separators."""
    return re.sub(r"[\s_|',]", "", ph)


@pytest.mark.parametrize(
    ("number", "words"),
    [
        (0, "零"), (7, "七"), (10, "十"), (15, "十五"), (20, "二十"), (105, "一百零五"),
        (1280, "一千二百八十"), (2000, "两千"), (2024, "两千零二十四"), (10005, "一万零五"),
        (12000, "一万两千"), (100000, "十万"), (120000000, "一亿两千万"),
    ],
)  # fmt: skip
def test_cardinal_numbers(number: int, words: str) -> None:
    assert cardinal(number) == words


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("请在2024-03-05前办理。", "请在二零二四年三月五日前办理。"),
        ("2024年3月15日", "二零二四年三月十五日"),
        ("有效期到2030/12/1", "有效期到二零三零年十二月一日"),
        ("每月发放2000元。", "每月发放两千元。"),
        ("应缴¥1,280.50", "应缴一千二百八十元五角"),
        ("共12000.05元", "共一万两千元零五分"),
        ("补贴0.5元", "补贴五角"),
        ("约1.2万元", "约一点二万元"),
        ("上涨3.5%", "上涨百分之三点五"),
        ("办理时间：9:00-17:30", "办理时间：九点到十七点三十分"),
        ("需要3个工作日", "需要三个工作日"),
        ("请到12号窗口", "请到十二号窗口"),
        ("第2步", "第二步"),
        ("共100人", "共一百人"),
    ],
)
def test_dates_amounts_and_quantities(text: str, spoken: str) -> None:
    assert speakable(text, lexicon={}) == spoken


def test_id_numbers_are_read_digit_by_digit_in_groups() -> None:
    assert speakable("您的身份证号是110105194901010021，对吗？", lexicon={}) == (
        "您的身份证号是一一零一零五，一九四九零一零一，零零二一，对吗？"
    )
    # On the phone 1 is read as 幺, and the check character X as 叉.
    assert speakable("11010519491231002X", one_as_yao=True, lexicon={}) == (
        "幺幺零幺零五，幺九四九幺二三幺，零零二叉"
    )


def test_masked_ids_phone_numbers_and_codes() -> None:
    assert speakable("身份证110105********0021", lexicon={}) == "身份证一一零一零五，零零二一"
    assert speakable("手机13812345678", lexicon={}) == "手机一三八，一二三四，五六七八"
    assert speakable("尾号5678", lexicon={}) == "尾号五六七八"
    assert speakable("验证码12", lexicon={}) == "验证码一二"
    assert (
        speakable("申请编号SB20240305001", lexicon={}) == "申请编号艾斯比二零二四，零三零五，零零一"
    )


def test_no_emoji_urls_or_markup_and_chinese_pauses_kept() -> None:
    text = (
        "**您好**😀！详情见 https://www.gov.cn/fuwu?id=1 或 12345@qq.com。"
        "\n- 带上身份证\n- 带上户口本"
    )
    out = speakable(text, lexicon={})
    assert out == "您好！详情见或。带上身份证。带上户口本"
    assert not re.search(r"[A-Za-z0-9*#😀]", out)
    assert speakable("好的, 请稍等. 您还在吗?", lexicon={}) == "好的，请稍等。您还在吗？"
    # No control characters: ctrl-A would start an espeak-ng embedded command.
    assert speakable("好\x01200S的\t。", lexicon={}) == "好二零零艾斯的。"


def test_numbered_choices_are_spoken_as_words() -> None:
    out = speakable("请选择：\n1. 补办身份证\n2. 社保转移", lexicon={})
    assert out == "请选择：一，补办身份证。二，社保转移"


def test_buttons_are_read_out_when_the_text_does_not_list_them() -> None:
    assert spoken_choices("请问您要办什么？", ["补办身份证", "人工服务"]) == (
        "请问您要办什么？您可以说：1、补办身份证；2、人工服务。"
    )
    assert spoken_choices("请选择：1. 补办", ["1. 补办"]) == "请选择：1. 补办"


def test_long_replies_are_split_into_sentences() -> None:
    text = speakable("您好！请带上身份证。到三号窗口取号；然后等叫号。好", lexicon={})
    assert sentences(text) == ["您好！", "请带上身份证。", "到三号窗口取号；", "然后等叫号。", "好"]
    long = "，".join(["这是一个很长的句子"] * 12) + "。"
    parts = sentences(long)
    assert len(parts) > 1 and all(len(p) <= textnorm.MAX_SENTENCE_CHARS for p in parts)
    assert "".join(parts) == long


def test_lexicon_entries_are_well_formed() -> None:
    lexicon = textnorm.load_lexicon()
    assert {"银行", "重新", "还款", "长辈", "异地"} <= set(lexicon)
    syllable = re.compile(r"^[a-zü]+[1-5]$")
    for word, pinyin in lexicon.items():
        parts = pinyin.split()
        assert len(parts) == len(word), word
        assert all(syllable.match(p) for p in parts), word


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("银行", "yin2 hang2"),
        ("重新", "chong2 xin1"),
        ("还款", "huan2 kuan3"),
        ("长辈", "zhang3 bei4"),
    ],
)
def test_polyphones_get_the_government_reading(word: str, expected: str) -> None:
    assert textnorm.load_lexicon()[word] == expected
    assert expected in speakable(f"请到{word}办理")


@needs_espeak
def test_espeak_reads_every_lexicon_entry_as_written() -> None:
    """After the lexicon, espeak-ng's phonemes are those of the intended pinyin."""
    lexicon = textnorm.load_lexicon()
    for word, pinyin in lexicon.items():
        assert bare(phonemes(speakable(word))) == bare(phonemes(pinyin)), word
    # And the lexicon is needed: without it espeak reads 银行 as "yin xing".
    assert bare(phonemes("银行")) != bare(phonemes("yin2 hang2"))


@needs_espeak
def test_the_pinyin_voice_speaks_mandarin_not_english() -> None:
    reply = speakable("您好！请问您要办理什么业务？您的银行卡尾号1234，重新办理需要3天。")
    assert "(en)" not in phonemes(reply, VOICE)
    # The plain cmn voice switches to English for the same text: the reason for the choice.
    assert "(en)" in phonemes("你好", "cmn")
