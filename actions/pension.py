"""Pension: the yearly certification (also by a family member) and the payments."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, ClassVar

from rasa_sdk.events import EventType, SlotSet

from actions.dialogue import (
    Turn,
    channel_of,
    entity_values,
    keyword_choice,
    parse_choice,
    plain,
    read_application_number,
    read_full_date,
    read_month,
    read_yuan,
    who,
)
from actions.exchange import get_client
from actions.flows import GATE, Flow
from actions.forms import ServiceForm, SlotMap
from actions.settings import get_settings

CERTIFY = "pension_certification"
PAYMENTS = "query_pension_payment"

RELATIONS = {
    "child": "子女",
    "spouse": "老伴",
    "grandchild": "孙子孙女",
    "sibling": "兄弟姐妹",
    "relative": "其他亲戚",
    "other": "朋友或邻居",
}
RELATION_WORDS = {
    "child": ("儿子", "女儿", "闺女", "子女", "儿媳", "女婿", "孩子", "我妈", "我爸", "我娘",
              "母亲", "父亲", "老妈", "老爸", "俺娘", "俺爹", "妈妈", "爸爸", "婆婆", "公公",
              "岳父", "岳母", "丈母娘"),
    "spouse": ("老伴", "爱人", "丈夫", "妻子", "老婆", "老公", "媳妇", "老头", "老太"),
    "grandchild": ("孙子", "孙女", "外孙", "爷爷", "奶奶", "姥姥", "姥爷", "外公", "外婆"),
    "sibling": ("哥哥", "姐姐", "弟弟", "妹妹", "兄弟", "姐妹", "我哥", "我姐", "我弟", "我妹"),
    "relative": ("亲戚", "侄子", "侄女", "外甥", "舅舅", "姑姑", "阿姨", "叔叔", "伯伯"),
    "other": ("朋友", "邻居", "同事"),
}  # fmt: skip
# Words that say somebody else does it for the pensioner.
_PROXY = re.compile(r"帮我|替我|给我|代办|家属|帮他|帮她|替他|替她|给他|给她|帮老人|替老人|帮忙办")
_SELF = re.compile(r"本人|我自己|自己办|就是我|我本人|自己来")
_NAME = re.compile(r"^[\u4e00-\u9fff·•]{2,20}$")


def relation_in(text: str) -> str | None:
    return keyword_choice(text, RELATION_WORDS)


class CertificationFlow(Flow):
    service = CERTIFY
    form = "pension_form"
    answers = ("by_proxy", "proxy_name", "proxy_relation")

    async def prepare(self, turn: Turn) -> list[EventType]:
        status = await get_client().pension_certification(turn.get("person_ref"))
        if status.get("pension_status") != "retired":
            turn.say("utter_pension_not_receiving")
            turn.say("utter_anything_else")
            return [SlotSet(GATE, "closed")]
        due = status.get("due_date")
        if due:
            response = (
                "utter_pension_overdue"
                if status.get("status") == "overdue"
                else "utter_pension_due"
            )
            turn.say(response, date=read_full_date(dt.date.fromisoformat(due)))
        return []

    async def submit(self, turn: Turn) -> list[EventType]:
        proxy = bool(turn.get("by_proxy"))
        application = await get_client().certify_pension(
            turn.get("person_ref"),
            channel_of(turn.tracker),
            turn.get("proxy_name") if proxy else None,
            turn.get("proxy_relation") if proxy else None,
            idempotency_key=self.write_key(turn, CERTIFY),
        )
        details = application.get("details") or {}
        next_due = details.get("next_due_date")
        turn.say(
            "utter_pension_certified",
            application_number=read_application_number(application["application_no"]),
            next_date=read_full_date(dt.date.fromisoformat(next_due)) if next_due else "",
        )
        if proxy:
            turn.say("utter_pension_proxy_recorded", proxy_name=turn.get("proxy_name"))
        turn.say("utter_anything_else")
        return self.written(turn, application)


class PaymentsFlow(Flow):
    service = PAYMENTS

    async def submit(self, turn: Turn) -> list[EventType]:
        months = get_settings().payment_months
        data = await get_client().pension_payments(turn.get("person_ref"), months)
        payments = data.get("payments") or []
        if data.get("pension_status") != "retired" or not payments:
            turn.say("utter_no_pension_payments")
        else:
            lines = "\n".join(
                f"{read_month(p['month'])}：{read_yuan(p['amount'])}，{_paid_on(p.get('paid_on'))}到账"
                for p in payments
            )
            turn.say("utter_pension_payments", count=len(payments), payments=lines)
        turn.say("utter_anything_else")
        return []


def _paid_on(iso: str | None) -> str:
    if not iso:
        return ""
    day = dt.date.fromisoformat(iso)
    return f"{day.month}月{day.day}日"


class ValidatePensionForm(ServiceForm):
    form = "pension_form"
    questions = ("by_proxy", "proxy_name", "proxy_relation", "confirmation")
    trigger_intents = frozenset({CERTIFY})
    entity_slots: ClassVar[SlotMap] = {"person_name": ("proxy_name",)}
    changeable: ClassVar[dict[str, str]] = {
        "by_proxy": "谁来办",
        "proxy_name": "代办人的名字",
        "proxy_relation": "和老人的关系",
    }
    dependents: ClassVar[SlotMap] = {"by_proxy": ("proxy_name", "proxy_relation")}

    def required(self, turn: Turn) -> list[str]:
        if turn.get("by_proxy") is False:
            return ["by_proxy", "confirmation"]
        return list(self.questions)

    def extract(self, turn: Turn) -> dict[str, Any]:
        answers = super().extract(turn)
        if self.is_starting(turn.tracker) and answers is not None:
            # "帮我妈认证": somebody else does it, and the words say how they are related.
            words = plain(turn.text)
            if _PROXY.search(words) or relation_in(words):
                answers.setdefault("by_proxy", True)
                if relation := relation_in(words):
                    answers.setdefault("proxy_relation", relation)
            answers.pop("proxy_name", None)  # a name in the first sentence is the pensioner's
        return answers

    def read_by_proxy(self, turn: Turn) -> bool | None:
        index = parse_choice(turn.text, 2)
        if index is not None:
            return index == 1
        words = plain(turn.text)
        if _SELF.search(words):
            return False
        if _PROXY.search(words) or relation_in(words):
            return True
        return None

    def read_proxy_name(self, turn: Turn) -> str | None:
        names = entity_values(turn.tracker, "person_name")
        if names:
            return names[0]
        words = re.sub(r"^(?:我叫|我是|叫|名字叫|名字是)", "", plain(turn.text))
        return words if _NAME.match(words) and not relation_in(words) else None

    def read_proxy_relation(self, turn: Turn) -> str | None:
        index = parse_choice(turn.text, len(RELATIONS))
        if index is not None:
            return list(RELATIONS)[index]
        return relation_in(turn.text)

    async def check_by_proxy(self, value: Any, turn: Turn) -> dict[str, Any]:
        if value:
            return {"by_proxy": True}
        return {"by_proxy": False, "proxy_name": None, "proxy_relation": None}

    async def check_proxy_name(self, value: Any, turn: Turn) -> dict[str, Any]:
        name = plain(str(value))
        if not _NAME.match(name):
            return self.reject("proxy_name", turn, "utter_name_unclear")
        return {"proxy_name": name}

    async def check_proxy_relation(self, value: Any, turn: Turn) -> dict[str, Any]:
        return {"proxy_relation": value if value in RELATIONS else None}

    def spoken_value(self, slot: str, value: Any) -> str:
        if slot == "proxy_relation":
            return RELATIONS.get(value, str(value))
        if slot == "by_proxy":
            return "家属代办" if value else "本人办理"
        return str(value)

    def readback(self, turn: Turn) -> dict[str, Any]:
        if turn.get("by_proxy"):
            relation = RELATIONS.get(turn.get("proxy_relation"), "")
            who_does = f"由{relation}{turn.get('proxy_name') or ''}代办"
        else:
            who_does = "本人办理"
        return {**who(turn), "who_does": who_does}
