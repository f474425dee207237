"""Try one sentence against the trained model, without starting the stack.

    make try TEXT="俺想把老保从四川转到广州去"

Prints, in plain words for trainers: what the assistant understood (intent and
how sure it is), the details it picked out (entities), other likely meanings,
and what it would do next. Nothing is sent to the exchange.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "models" / "assistant.tar.gz"

# Names trainers know these intents by.
INTENT_LABELS = {
    "renew_id_card": "身份证换领/补领",
    "transfer_social_insurance": "社保跨省转移",
    "pension_certification": "养老金资格认证",
    "medical_insurance_filing": "异地就医备案",
    "social_security_card": "社保卡申领/挂失/补换",
    "query_pension_payment": "养老金发放查询",
    "check_application_status": "办理进度查询",
    "find_service_hall": "找办事大厅",
    "apply_senior_card": "老年人优待证申领",
    "request_human": "转人工",
    "greet": "打招呼",
    "goodbye": "再见",
    "thank": "感谢",
    "affirm": "同意/是的",
    "deny": "不同意/不是",
    "cancel": "不办了",
    "repeat": "再说一遍",
    "slow_down": "说慢一点",
    "ask_capabilities": "问能办什么",
    "bot_challenge": "问是不是机器人",
    "out_of_scope": "不归我们管的事",
    "inform": "回答问题（姓名、号码、地点、日期、选择）",
    "nlu_fallback": "没听懂（把握太低，会请对方再说一遍）",
}


def describe_action(name: str, domain) -> str:
    if name in domain.form_names:
        return f"开始办理，按表单 {name} 一项一项地问"
    if name.startswith("utter_"):
        variants = domain.responses.get(name) or [{}]
        return f"回答「{variants[0].get('text', name)}」（{name}）"
    if name == "action_listen":
        return "等对方说话"
    return f"执行动作 {name}"


def report(text: str, parsed: dict, prediction: dict | None, domain) -> str:
    intent = parsed.get("intent") or {}
    name = intent.get("name") or "nlu_fallback"
    lines = [
        f"你说：{text}",
        f"听懂的意思：{name}（{INTENT_LABELS.get(name, name)}），"
        f"把握 {intent.get('confidence', 0):.0%}",
    ]
    entities = parsed.get("entities") or []
    if entities:
        lines.append("找到的信息：")
        for entity in entities:
            said = text[entity["start"] : entity["end"]] if "start" in entity else entity["value"]
            lines.append(f"  - {entity['entity']} = {entity['value']}（原话“{said}”）")
    else:
        lines.append("找到的信息：没有")
    others = [r for r in parsed.get("intent_ranking", [])[1:4] if r.get("confidence", 0) >= 0.01]
    if others:
        lines.append("其他可能：" + "；".join(
            f"{r['name']}（{INTENT_LABELS.get(r['name'], r['name'])}）{r['confidence']:.0%}"
            for r in others
        ))  # fmt: skip
    if prediction:
        best = max(prediction["scores"], key=lambda s: s["score"])
        lines.append(f"下一步：{describe_action(best['action'], domain)}，把握 {best['score']:.0%}")
    return "\n".join(lines)


async def try_text(text: str, model: Path) -> str:
    from rasa.core.agent import Agent
    from rasa.core.channels.channel import UserMessage

    agent = Agent.load(str(model))
    sender = "trainer-try"
    await agent.log_message(UserMessage(text, sender_id=sender))
    tracker = await agent.tracker_store.retrieve(sender)
    parsed = tracker.latest_message.parse_data
    prediction = await agent.predict_next_for_sender_id(sender)
    return report(text, parsed, prediction, agent.domain)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("text", help="the sentence to try")
    parser.add_argument("--model", type=Path, default=MODEL)
    args = parser.parse_args()
    if not args.text.strip():
        sys.exit('请给一句话，例如：make try TEXT="我想查养老金"')
    if not args.model.exists():
        sys.exit("还没有训练好的模型：请先运行 make train。")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    logging.disable(logging.WARNING)
    print(asyncio.run(try_text(args.text, args.model)))


if __name__ == "__main__":
    main()
