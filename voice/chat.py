"""The web widget's HTTP API: text chat through Rasa, and speech for a reply.

``POST /v1/chat`` forwards a typed message (or a button payload) to Rasa and
adds what the widget needs besides the reply: the reply speech rate (after a
"说慢一点") and the slot the assistant is asking for. ``POST /v1/tts`` turns a
reply into a 16 kHz WAV for the widget's speaker button.

The client's ``sender`` names its conversation only inside the web channel:
Rasa gets ``web:<sender>`` (voice/conversations.py), so no widget request can
reach a kiosk or phone conversation, and a sender too short or too regular to
be unguessable is refused (422). Both take one message from the conversation's
and the client address's allowance (voice/access.py); past it the answer is 429
with Retry-After.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, conint, constr, validator

from voice import conversations, protocol
from voice.access import Access, address_key, client_address
from voice.pipeline import Pipeline
from voice.problems import Problem, too_many_requests
from voice.rasa_client import RasaUnavailable

router = APIRouter(prefix="/v1", tags=["widget"])

TTS_SAMPLE_RATE = 16000


def get_pipeline(request: Request) -> Pipeline:
    return request.app.state.pipeline


PipelineDep = Annotated[Pipeline, Depends(get_pipeline)]
Sender = constr(regex=protocol.SENDER_PATTERN.pattern)
Text = constr(strip_whitespace=True, min_length=1, max_length=protocol.MAX_TEXT_CHARS)


def web_sender(sender: str | None) -> str | None:
    if sender is not None and (problem := conversations.web_sender_problem(sender)):
        raise ValueError(problem)
    return sender


class ChatRequest(BaseModel):
    sender: Sender
    text: Text

    _sender = validator("sender", allow_reuse=True)(web_sender)

    @property
    def conversation_id(self) -> str:
        return conversations.web(self.sender)


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
    # The id the assistant, the handover queue and the agent view know it by.
    conversation: str


class TtsRequest(BaseModel):
    text: Text
    rate: conint(ge=60, le=300) | None = None
    # Without a rate, the conversation's own rate (slowed down on request).
    sender: Sender | None = None

    _sender = validator("sender", allow_reuse=True)(web_sender)


def limit(request: Request, conversation_id: str | None) -> None:
    """One message's worth of the conversation's and the address's allowance, or 429."""
    access: Access = request.app.state.access
    wait = access.message(source=address_key(client_address(request)), sender=conversation_id)
    if wait:
        raise too_many_requests(wait, "too many messages from this sender or address; slow down")


@router.post("/chat", response_model=ChatResponse)
async def chat(body: ChatRequest, pipeline: PipelineDep, request: Request) -> ChatResponse:
    conversation_id = body.conversation_id
    limit(request, conversation_id)
    try:
        # The widget is the web channel; actions record it (e.g. pension certification).
        reply = await pipeline.respond(conversation_id, body.text, metadata={"channel": "web"})
    except RasaUnavailable as error:
        raise Problem(503, "Assistant unavailable", str(error)) from error
    return ChatResponse(
        messages=[ChatMessage(text=m.text, buttons=m.buttons) for m in reply.messages],
        speech_rate=reply.speech_rate,
        requested_slot=reply.requested_slot,
        conversation=conversation_id,
    )


@router.post("/tts", response_class=Response, responses={200: {"content": {"audio/wav": {}}}})
async def tts(body: TtsRequest, pipeline: PipelineDep, request: Request) -> Response:
    conversation_id = conversations.web(body.sender) if body.sender is not None else None
    limit(request, conversation_id)  # speech is the dearest thing the gateway makes
    if body.rate is not None:
        rate = body.rate
    elif conversation_id is not None:
        rate = pipeline.reply_rate(pipeline.conversation(conversation_id))
    else:
        rate = pipeline.settings.speech_rate
    if not pipeline.tts.speakable(body.text):
        raise Problem(
            422, "Nothing to say", "the text has nothing speakable (only symbols or links)"
        )
    wav = await pipeline.tts.wav(body.text, rate=rate, sample_rate=TTS_SAMPLE_RATE)
    return Response(wav, media_type="audio/wav")
