"""Keep personal information out of logs (PIPL).

``RedactingFilter`` is attached to the root logger of every service, so a
library that logs a request body cannot leak an ID number or phone number.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from common.idcard import ID_NUMBER_IN_TEXT, mask

# Mainland mobile numbers, optionally with +86 and separators.
PHONE_IN_TEXT = re.compile(r"(?<![0-9])(?:\+?86[\s-]?)?1[3-9]\d[\s-]?\d{4}[\s-]?\d{4}(?![0-9])")


def redact(text: str) -> str:
    text = ID_NUMBER_IN_TEXT.sub(lambda m: mask(m.group(0)), text)
    return PHONE_IN_TEXT.sub("1**********", text)


class RedactingFilter(logging.Filter):
    """Masks the formatted message and any exception text of every record.

    ``redactor`` defaults to ``redact`` (digits as written); the Rasa process
    passes one that also finds numbers said as Chinese digits.
    """

    def __init__(self, redactor: Callable[[str], str] = redact) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        cleaned = self.redactor(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        # A traceback can quote a value (a failed parse, a SQL parameter).
        if record.exc_info and not record.exc_text:
            record.exc_text = _FORMATTER.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor(record.exc_text)
        return True


_FORMATTER = logging.Formatter()


def _all_handlers() -> list[logging.Handler]:
    loggers = [logging.getLogger()] + [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    return [handler for logger in loggers for handler in logger.handlers]


def protect_handlers(redactor: Callable[[str], str] = redact) -> None:
    """Put the redacting filter on every handler that exists now.

    Filters on handlers (not loggers) catch records from every library logger
    that propagates to them; access loggers with their own handlers (sanic,
    uvicorn) are covered because their handlers are in the list too.
    """
    for handler in _all_handlers():
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter(redactor))


def install(level: int | str = logging.INFO) -> None:
    """Configure root logging once, with the redacting filter on every handler.

    Each service passes its settings' ``log_level`` (``LOG_LEVEL``: the one
    switch the team on call turns for every process, Rasa included).
    """
    level = level.upper() if isinstance(level, str) else level
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    else:
        root.setLevel(level)
    protect_handlers()
