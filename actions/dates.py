"""Dates as people say them: 明天, 后天, 下周一, 这个礼拜五, 三月五号, 5号, 2025-06-30.

Only future days matter here (appointments), so a month-day that has already
passed this year means next year, and a bare "5号" means the next 5th.
"""

from __future__ import annotations

import datetime as dt
import re

from nluext.digits import normalise_digits

_RELATIVE = {"今天": 0, "今日": 0, "明天": 1, "明日": 1, "后天": 2, "大后天": 3}
_WEEKDAY = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "末": 5}
_WEEK = re.compile(r"(这|本|下下|下)?(?:个)?(?:周|星期|礼拜)([一二三四五六日天末1-7])")
_ISO = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})")
_MONTH_DAY = re.compile(r"(\d{1,2})月(\d{1,2})(?:日|号)?")
_DAY = re.compile(r"(?<![\d月])(\d{1,2})(?:日|号)")


def working_days_after(today: dt.date, count: int) -> list[dt.date]:
    """The next ``count`` working days (Monday to Friday) after today."""
    days: list[dt.date] = []
    day = today
    while len(days) < count:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            days.append(day)
    return days


def parse_date(text: str, today: dt.date) -> dt.date | None:
    """The day a message names, or None when it names none."""
    if match := _ISO.search(text or ""):
        return _date(int(match[1]), int(match[2]), int(match[3]))
    text = normalise_digits(text or "").replace(" ", "")
    for word in sorted(_RELATIVE, key=len, reverse=True):
        if word in text:
            return today + dt.timedelta(days=_RELATIVE[word])
    if match := _WEEK.search(text):
        prefix, day = match.groups()
        weekday = int(day) - 1 if day.isdigit() else _WEEKDAY[day]
        start = today - dt.timedelta(days=today.weekday())  # Monday of this week
        weeks = {"下": 1, "下下": 2}.get(prefix or "", 0)
        candidate = start + dt.timedelta(weeks=weeks, days=weekday)
        if not prefix and candidate <= today:
            candidate += dt.timedelta(weeks=1)  # "周三" said on a Thursday means next week
        return candidate
    if match := _ISO.search(text):
        return _date(int(match[1]), int(match[2]), int(match[3]))
    if match := _MONTH_DAY.search(text):
        month, day = int(match[1]), int(match[2])
        candidate = _date(today.year, month, day)
        if candidate is not None and candidate < today:
            candidate = _date(today.year + 1, month, day)
        return candidate
    if match := _DAY.search(text):
        day = int(match[1])
        for months_ahead in range(3):
            month = (today.month - 1 + months_ahead) % 12 + 1
            year = today.year + (today.month - 1 + months_ahead) // 12
            candidate = _date(year, month, day)
            if candidate is not None and candidate > today:
                return candidate
    return None


def _date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def beijing_today() -> dt.date:
    """Today in China (the exchange counts appointment days in Beijing time)."""
    return dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
