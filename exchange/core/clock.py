"""The exchange's notion of "now", injectable so tests never sleep.

All stored times are UTC; dates people see (due dates, appointment days) are
Beijing dates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

BEIJING = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")

Clock = Callable[[], dt.datetime]


def system_clock() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def beijing_date(moment: dt.datetime) -> dt.date:
    return moment.astimezone(BEIJING).date()


def iso(moment: dt.datetime) -> str:
    """UTC, microseconds, explicit offset: one spelling everywhere (also in audit hashes)."""
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")
