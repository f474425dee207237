"""A scripted stand-in for Rasa's REST channel and tracker API.

Only for the voice session tests that need a reply Rasa would not give on
demand: a reply that takes two seconds (the filler), a question for a digit
slot (grammar switching), a long answer (barge-in). The end-to-end tests in
test_e2e_stack.py run against the real Rasa server instead.

Run: python -m tests.voice.scripted_rasa PORT
"""

from __future__ import annotations

import asyncio
import sys
from collections import defaultdict

from fastapi import FastAPI, HTTPException, Request

app = FastAPI()
received: dict[str, list[str]] = defaultdict(list)
# The REST channel's optional "metadata" of each message (what the actions see).
metadata: dict[str, list[dict | None]] = defaultdict(list)
state: dict[str, dict] = defaultdict(dict)

LONG = (
    "好的，我来给您说一下办理流程。第一步，请带上您的身份证和户口本，到一楼三号窗口取号。"
    "第二步，等叫号以后，把材料交给工作人员核对。第三步，拍照并按手印。"
    "一般十五个工作日以后可以领取新证。您也可以选择邮寄到家。"
)

SCRIPT = {
    "/greet": (
        [
            {
                "text": "您好！请问您要办什么事？",
                "buttons": [
                    {"title": "1. 补办身份证", "payload": "/renew_id"},
                    {"title": "2. 人工服务", "payload": "/request_human"},
                ],
            }
        ],
        {},
    ),
    "/hello": ([{"text": "您好，请问您要办什么事？"}], {}),
    "/ask_id": ([{"text": "请说出您的身份证号码。"}], {"requested_slot": "id_number"}),
    "/ask_confirm": ([{"text": "您要补办身份证，对吗？"}], {"requested_slot": "confirmation"}),
    "/long": ([{"text": LONG}], {}),
    "/statement": ([{"text": "好的。"}], {}),
    "说慢一点": ([{"text": "好的，我说慢一点。请问您要办什么事？"}], {"intent": "slow_down"}),
}


@app.get("/")
async def root() -> str:
    return "Hello from the scripted Rasa"


@app.post("/webhooks/rest/webhook")
async def webhook(request: Request) -> list[dict]:
    body = await request.json()
    sender, text = body["sender"], body["message"]
    received[sender].append(text)
    metadata[sender].append(body.get("metadata"))
    if text == "/slow_reply":
        await asyncio.sleep(2.0)
        messages, slots = [{"text": "让您久等了，查到了。请问还有别的事吗？"}], {}
    elif text in SCRIPT:
        messages, slots = SCRIPT[text]
    else:
        messages, slots = [{"text": "没听清，请您再说一遍？"}], {}
    state[sender] = {"requested_slot": slots.get("requested_slot"), "intent": slots.get("intent")}
    return [{"recipient_id": sender, **m} for m in messages]


@app.get("/conversations/{sender}/tracker")
async def tracker(sender: str, token: str = "") -> dict:
    if token != "scripted-token":
        raise HTTPException(401, "bad token")
    current = state.get(sender, {})
    return {
        "sender_id": sender,
        "slots": {"requested_slot": current.get("requested_slot")},
        "latest_message": {"intent": {"name": current.get("intent") or "nlu_fallback"}},
    }


@app.get("/_received/{sender}")
async def sent_to_rasa(sender: str) -> list[str]:
    return received.get(sender, [])


@app.get("/_metadata/{sender}")
async def metadata_sent(sender: str) -> list[dict | None]:
    return metadata.get(sender, [])


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", ws="none")
