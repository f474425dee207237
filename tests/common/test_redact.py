import io
import logging

from common.redact import RedactingFilter, protect_handlers, redact


def test_redact_masks_id_and_phone_numbers():
    text = "张桂芳 110105194903120021 手机 138-0013-8001 或 +86 13900139002"
    cleaned = redact(text)
    assert "110105194903120021" not in cleaned
    assert "110105********0021" in cleaned
    assert "8001" not in cleaned and "9002" not in cleaned


def test_redact_leaves_application_numbers_and_short_numbers():
    assert redact("申请号 SB48310275，共 12 个月") == "申请号 SB48310275，共 12 个月"


def test_filter_rewrites_formatted_log_records(caplog):
    logger = logging.getLogger("test.redact")
    logger.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO, logger="test.redact"):
        logger.info("verify %s with %s", "44010619520408003X", "13800138000")
    assert "44010619520408003X" not in caplog.text
    assert "13800138000" not in caplog.text
    assert "440106********003X" in caplog.text


def test_filter_masks_tracebacks_and_handlers_of_other_loggers():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    access = logging.getLogger("test.redact.access")  # like sanic.access: its own handler
    access.addHandler(handler)
    access.propagate = False
    try:
        protect_handlers()
        try:
            raise ValueError("bad id 110105194903120021")
        except ValueError:
            access.exception("GET /persons/13800138001")
    finally:
        access.removeHandler(handler)
    logged = stream.getvalue()
    assert "110105194903120021" not in logged and "13800138001" not in logged
    assert "110105********0021" in logged and "Traceback" in logged


def test_the_rasa_process_also_masks_spoken_digits():
    from rasa_addons.redaction import redact_text

    said = "幺幺零幺零五 幺九四九零三幺二 零零二幺"
    record = logging.LogRecord(
        "rasa", logging.DEBUG, __file__, 1, "Received user message '%s'", (said,), None
    )
    RedactingFilter(redact_text).filter(record)
    assert record.getMessage() == "Received user message '110105********0021'"
