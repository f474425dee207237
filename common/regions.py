"""The 34 provincial-level divisions of China, with the short names people say.

Canonical names are the official full names (``四川省``, ``上海市``,
``广西壮族自治区``). The exchange validates against them; NLU synonyms and
form validation map what people say onto them with ``canonical_province``.
Prefecture-level cities live in ``data/regions/cities.yml`` (see ``cities``).
"""

from __future__ import annotations

import functools
from pathlib import Path

import yaml

# canonical name -> other names people use (short name, one-character abbreviation)
PROVINCES: dict[str, tuple[str, ...]] = {
    "北京市": ("北京", "京"),
    "天津市": ("天津", "津"),
    "河北省": ("河北", "冀"),
    "山西省": ("山西", "晋"),
    "内蒙古自治区": ("内蒙古", "内蒙", "蒙"),
    "辽宁省": ("辽宁", "辽"),
    "吉林省": ("吉林", "吉"),
    "黑龙江省": ("黑龙江", "黑"),
    "上海市": ("上海", "沪", "申"),
    "江苏省": ("江苏", "苏"),
    "浙江省": ("浙江", "浙"),
    "安徽省": ("安徽", "皖"),
    "福建省": ("福建", "闽"),
    "江西省": ("江西", "赣"),
    "山东省": ("山东", "鲁"),
    "河南省": ("河南", "豫"),
    "湖北省": ("湖北", "鄂"),
    "湖南省": ("湖南", "湘"),
    "广东省": ("广东", "粤"),
    "广西壮族自治区": ("广西", "桂"),
    "海南省": ("海南", "琼"),
    "重庆市": ("重庆", "渝"),
    "四川省": ("四川", "川", "蜀"),
    "贵州省": ("贵州", "黔", "贵"),
    "云南省": ("云南", "滇", "云"),
    "西藏自治区": ("西藏", "藏"),
    "陕西省": ("陕西", "陕", "秦"),
    "甘肃省": ("甘肃", "甘", "陇"),
    "青海省": ("青海", "青"),
    "宁夏回族自治区": ("宁夏", "宁"),
    "新疆维吾尔自治区": ("新疆", "新"),
    "台湾省": ("台湾", "台"),
    "香港特别行政区": ("香港", "港"),
    "澳门特别行政区": ("澳门", "澳"),
}

# Municipalities are both a province and a city.
MUNICIPALITIES = ("北京市", "天津市", "上海市", "重庆市")

_ALIASES = {alias: name for name, aliases in PROVINCES.items() for alias in (name, *aliases)}

CITIES_FILE = Path(__file__).resolve().parent.parent / "data" / "regions" / "cities.yml"


def canonical_province(text: str | None) -> str | None:
    """The canonical province for a full name, short name or abbreviation; else None."""
    if not text:
        return None
    return _ALIASES.get(text.strip())


def is_province(text: str | None) -> bool:
    return text in PROVINCES


@functools.cache
def cities() -> dict[str, list[str]]:
    """Province -> its prefecture-level cities (canonical names, e.g. ``成都市``)."""
    with CITIES_FILE.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def province_of_city(city: str) -> str | None:
    for province, names in cities().items():
        if city in names:
            return province
    return None


def canonical_city(text: str | None) -> str | None:
    """``成都`` or ``成都市`` -> ``成都市``; municipalities map to themselves."""
    if not text:
        return None
    text = text.strip()
    for names in cities().values():
        for name in names:
            if text == name or (len(text) >= 2 and _short_city(name) == text):
                return name
    return None


# Peoples named in autonomous prefectures; people drop them with the suffix:
# 凉山彝族自治州 is 凉山, 海西蒙古族藏族自治州 is 海西.
_PEOPLES = (
    "朝鲜族", "土家族", "布依族", "哈尼族", "景颇族", "傈僳族", "蒙古族", "苗族", "侗族",
    "藏族", "羌族", "彝族", "壮族", "傣族", "白族", "回族", "蒙古", "柯尔克孜", "哈萨克",
)  # fmt: skip


def _short_city(name: str) -> str:
    """The name people say: 成都市 -> 成都, 凉山彝族自治州 -> 凉山, 兴安盟 -> 兴安."""
    for suffix in ("市", "地区", "盟", "自治州"):
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            short = name[: -len(suffix)]
            stripped = True
            while suffix == "自治州" and stripped:
                stripped = False
                for people in _PEOPLES:
                    if short.endswith(people) and len(short) - len(people) >= 2:
                        short, stripped = short[: -len(people)], True
                        break
            return short
    return name


def short_city(name: str) -> str:
    """Public form of the short name of a canonical city (for lookup tables)."""
    return _short_city(name)
