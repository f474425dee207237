"""Keep personal information out of logs (PIPL).

``RedactingFilter`` is attached to the root logger of every service, so a
library that logs a request body cannot leak an ID number or phone number.
"""

from __future__ import annotations

import logging
import re

from common.idcard import ID_NUMBER_IN_TEXT, mask

# Mainland mobile numbers, optionally with +86 and separators.
PHONE_IN_TEXT = re.compile(r"(?<![0-9])(?:\+?86[\s-]?)?1[3-9]\d[\s-]?\d{4}[\s-]?\d{4}(?![0-9])")


def redact(text: str) -> str:
    text = ID_NUMBER_IN_TEXT.sub(lambda m: mask(m.group(0)), text)
    return PHONE_IN_TEXT.sub("1**********", text)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def install(level: int | str = logging.INFO) -> None:
    """Configure root logging once, with the redacting filter on every handler."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
