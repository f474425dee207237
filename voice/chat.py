"""The web widget's HTTP API: text chat through Rasa, and speech for a reply.

``POST /v1/chat`` forwards a typed message (or a button payload) to Rasa and
adds what the widget needs besides the reply: the reply speech rate (after a
"说慢一点") and the slot the assistant is asking for. ``POST /v1/tts`` turns a
reply into a 16 kHz WAV for the widget's speaker button.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, conint, constr

from voice import protocol
from voice.pipeline import Pipeline
from voice.problems import Problem
from voice.rasa_client import RasaUnavailable

router = APIRouter(prefix="/v1", tags=["widget"])

TTS_SAMPLE_RATE = 16000


def get_pipeline(request: Request) -> Pipeline:
    return request.app.state.pipeline


PipelineDep = Annotated[Pipeline, Depends(get_pipeline)]
Sender = constr(regex=protocol.SENDER_PATTERN.pattern)
Text = constr(strip_whitespace=True, min_length=1, max_length=protocol.MAX_TEXT_CHARS)


class ChatRequest(BaseModel):
    sender: Sender
    text: Text


class ChatButton(BaseModel):
    title: str
    payload: str


class ChatMessage(BaseModel):
    text: str
    buttons: list[ChatButton] = []


class ChatResponse(BaseModel):
    messages: list[ChatMessage]
    speech_rate: int
    requested_slot: str | None = None


class TtsRequest(BaseModel):
    text: Text
    rate: conint(ge=60, le=300) | None = None
    # Without a rate, the conversation's own rate (slowed down on request).
    sender: Sender | None = None


@router.post("/chat", response_model=ChatResponse)
async def chat(body: ChatRequest, pipeline: PipelineDep) -> ChatResponse:
    try:
        reply = await pipeline.respond(body.sender, body.text)
    except RasaUnavailable as error:
        raise Problem(503, "Assistant unavailable", str(error)) from error
    return ChatResponse(
        messages=[ChatMessage(text=m.text, buttons=m.buttons) for m in reply.messages],
        speech_rate=reply.speech_rate,
        requested_slot=reply.requested_slot,
    )


@router.post("/tts", response_class=Response, responses={200: {"content": {"audio/wav": {}}}})
async def tts(body: TtsRequest, pipeline: PipelineDep) -> Response:
    if body.rate is not None:
        rate = body.rate
    elif body.sender is not None:
        rate = pipeline.reply_rate(pipeline.conversation(body.sender))
    else:
        rate = pipeline.settings.speech_rate
    if not pipeline.tts.speakable(body.text):
        raise Problem(
            422, "Nothing to say", "the text has nothing speakable (only symbols or links)"
        )
    wav = await pipeline.tts.wav(body.text, rate=rate, sample_rate=TTS_SAMPLE_RATE)
    return Response(wav, media_type="audio/wav")
