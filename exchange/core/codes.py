"""The exchange's vocabulary: service codes, purposes of use, and their plain words.

Kept free of web and database imports so the client (and the bot's actions) can
import it cheaply.
"""

from __future__ import annotations

from enum import Enum


class ServiceCode(str, Enum):
    """The services the assistant handles; also the values of `?service=` on outlets."""

    RENEW_ID_CARD = "renew_id_card"
    TRANSFER_SOCIAL_INSURANCE = "transfer_social_insurance"
    PENSION_CERTIFICATION = "pension_certification"
    MEDICAL_INSURANCE_FILING = "medical_insurance_filing"
    SOCIAL_SECURITY_CARD = "social_security_card"
    QUERY_PENSION_PAYMENT = "query_pension_payment"
    CHECK_APPLICATION_STATUS = "check_application_status"
    FIND_SERVICE_HALL = "find_service_hall"
    APPLY_SENIOR_CARD = "apply_senior_card"


class Purpose(str, Enum):
    """Why a client needs data (X-Purpose). Each route accepts a fixed set of purposes."""

    IDENTITY_VERIFICATION = "identity_verification"
    SOCIAL_INSURANCE_TRANSFER = "social_insurance_transfer"
    PENSION_CERTIFICATION = "pension_certification"
    PENSION_PAYMENT_QUERY = "pension_payment_query"
    MEDICAL_INSURANCE_FILING = "medical_insurance_filing"
    SOCIAL_SECURITY_CARD = "social_security_card"
    ID_CARD_RENEWAL = "id_card_renewal"
    APPLICATION_STATUS = "application_status"
    SERVICE_HALL_LOOKUP = "service_hall_lookup"
    ACCESS_LOG_REVIEW = "access_log_review"
    HANDOVER = "handover"
    SENIOR_CARD = "senior_card"


# Shown to citizens in their access log ("why was my data read").
PURPOSE_WORDS: dict[str, str] = {
    Purpose.IDENTITY_VERIFICATION: "核实您的身份",
    Purpose.SOCIAL_INSURANCE_TRANSFER: "办理社保转移",
    Purpose.PENSION_CERTIFICATION: "办理养老金资格认证",
    Purpose.PENSION_PAYMENT_QUERY: "查询养老金发放",
    Purpose.MEDICAL_INSURANCE_FILING: "办理异地就医备案",
    Purpose.SOCIAL_SECURITY_CARD: "办理社保卡业务",
    Purpose.ID_CARD_RENEWAL: "办理身份证换领",
    Purpose.APPLICATION_STATUS: "查询办理进度",
    Purpose.SERVICE_HALL_LOOKUP: "查找办事大厅",
    Purpose.ACCESS_LOG_REVIEW: "查看数据使用记录",
    Purpose.HANDOVER: "转给人工客服",
    Purpose.SENIOR_CARD: "办理老年人优待证",
}

# Application numbers are read aloud: two letters people recognise plus 8 digits.
APPLICATION_PREFIXES: dict[ServiceCode, str] = {
    ServiceCode.TRANSFER_SOCIAL_INSURANCE: "SB",
    ServiceCode.PENSION_CERTIFICATION: "YL",
    ServiceCode.MEDICAL_INSURANCE_FILING: "YB",
    ServiceCode.SOCIAL_SECURITY_CARD: "SK",
    ServiceCode.RENEW_ID_CARD: "SF",
    ServiceCode.APPLY_SENIOR_CARD: "YD",  # 优待
}


def purpose_words(purpose: str) -> str:
    return PURPOSE_WORDS.get(purpose, purpose)
