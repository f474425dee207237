"""Kiosk message parsing and AudioSocket framing."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from voice import audiosocket, protocol
from voice.audiosocket import Frame, Kind
from voice.protocol import EndOfAudio, ProtocolError, Start, Text, parse_client


def test_client_messages_parse_into_dataclasses() -> None:
    assert parse_client(
        '{"type":"start","sender":"robot-7:visit-1","sample_rate":16000,"channel":"kiosk"}'
    ) == (Start(sender="robot-7:visit-1", sample_rate=16000, channel="kiosk"))
    assert (
        parse_client('{"type":"start","sender":"w1","channel":"web","speak":false}').speak is False
    )
    robot = parse_client(
        '{"type":"start","sender":"r","channel":"kiosk","device":"robot-7","token":"t0k3n"}'
    )
    assert (robot.device, robot.token) == ("robot-7", "t0k3n")
    assert "t0k3n" not in repr(robot)  # a logged start never shows the token
    assert parse_client('{"type":"text","text":"  说慢一点 "}') == Text(text="说慢一点")
    assert parse_client('{"type":"end_of_audio"}') == EndOfAudio()


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("not json", "bad_json"),
        ("[1, 2]", "bad_json"),
        ('{"type":"dance"}', "unknown_type"),
        ('{"text":"no type"}', "unknown_type"),
        ('{"type":"start","sample_rate":16000}', "bad_message"),
        ('{"type":"start","sender":"has space"}', "bad_message"),
        ('{"type":"start","sender":"' + "x" * 65 + '"}', "bad_message"),
        ('{"type":"start","sender":"a","sample_rate":8000}', "bad_sample_rate"),
        ('{"type":"start","sender":"a","sample_rate":"16000"}', "bad_sample_rate"),
        ('{"type":"start","sender":"a","channel":"fax"}', "bad_message"),
        ('{"type":"start","sender":"a","channel":"phone"}', "bad_message"),  # AudioSocket only
        ('{"type":"start","sender":"a","device":"robot 7","token":"t"}', "bad_message"),
        ('{"type":"start","sender":"a","device":"r7","token":42}', "bad_message"),
        ('{"type":"start","sender":"a","device":"r7","token":"' + "t" * 257 + '"}', "bad_message"),
        ('{"type":"text","text":""}', "bad_message"),
        ('{"type":"text","text":42}', "bad_message"),
        ('{"type":"text","text":"' + "长" * 501 + '"}', "bad_message"),
    ],
)
def test_bad_client_messages_have_stable_codes(raw: str, code: str) -> None:
    with pytest.raises(ProtocolError) as error:
        parse_client(raw)
    assert error.value.code == code
    assert error.value.message


def test_server_messages_serialise_with_their_type() -> None:
    bot = protocol.Bot(
        text="您好", buttons=[protocol.Button("人工服务", "/human_handoff")], speech_rate=125
    )
    assert json.loads(protocol.to_json(bot)) == {
        "type": "bot", "text": "您好",
        "buttons": [{"title": "人工服务", "payload": "/human_handoff"}],
        "speech_rate": 125, "reprompt": False,
    }  # fmt: skip
    assert json.loads(protocol.to_json(protocol.Error("asr_unavailable", "x")))["type"] == "error"
    assert "您好" in protocol.to_json(bot)  # not \\u escaped


def test_audiosocket_frames_round_trip() -> None:
    call = uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert audiosocket.uuid_frame(call).encode() == b"\x01\x00\x10" + call.bytes
    assert audiosocket.HANGUP.encode() == b"\x00\x00\x00"
    assert (
        audiosocket.audio_frame(b"\x01\x02" * 160).encode()[:3] == b"\x10\x01\x40"
    )  # 320, big-endian

    async def read_all(data: bytes) -> list[Frame | None]:
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        return [await audiosocket.read_frame(reader) for _ in range(4)]

    stream = (
        audiosocket.uuid_frame(call).encode()
        + Frame(Kind.AUDIO, b"ab").encode()
        + audiosocket.HANGUP.encode()
    )
    frames = asyncio.run(read_all(stream))
    assert frames == [
        Frame(Kind.UUID, call.bytes),
        Frame(Kind.AUDIO, b"ab"),
        Frame(Kind.HANGUP),
        None,
    ]
    # A frame cut off in the middle is the end of the call, not a crash.
    assert asyncio.run(read_all(b"\x10\x01\x40abc"))[0] is None
    with pytest.raises(ValueError):
        Frame(Kind.AUDIO, bytes(70_000)).encode()
