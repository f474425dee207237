import logging

from common.redact import RedactingFilter, redact


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
