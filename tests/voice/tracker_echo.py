"""A stand-in for Rasa's tracker route, on the Sanic Rasa ships with: records the
conversation ids exactly as Sanic hands them over (it does not percent-decode
path parameters). Its own process: Sanic's start-up patches app classes once per
process, so a second in-process Sanic app in a test session fails.

``python -m tests.voice.tracker_echo PORT KNOWN_ID``
"""

from __future__ import annotations

import sys

from sanic import Sanic, response

asked: list[str] = []
app = Sanic("tracker_echo")


@app.get("/conversations/<conversation_id:path>/tracker")
async def tracker(request, conversation_id: str):  # declared as rasa/server.py does
    asked.append(conversation_id)
    slots = {"requested_slot": "id_number"} if conversation_id == sys.argv[2] else {}
    return response.json({"sender_id": conversation_id, "slots": slots})


@app.get("/_asked")
async def what_was_asked(request):
    return response.json(asked)


@app.get("/health")
async def health(request):
    return response.json({"status": "ok"})


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(sys.argv[1]), access_log=False, workers=1)
