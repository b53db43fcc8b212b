"""Prebuilt WebSocket frames: what any client must be able to read."""

from __future__ import annotations

import json
import struct
import zlib

import pytest

from webapp.live import frames


def parse(frame: bytes) -> tuple[int, bytes]:
    """(first byte, payload) of one unmasked frame; checks the length field."""
    first, second = frame[0], frame[1]
    assert second & 0x80 == 0, "server frames are not masked"
    length, offset = second & 0x7F, 2
    if length == 126:
        (length,), offset = struct.unpack("!H", frame[2:4]), 4
    elif length == 127:
        (length,), offset = struct.unpack("!Q", frame[2:10]), 10
    payload = frame[offset:]
    assert len(payload) == length
    return first, payload


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 200_000])
def test_a_plain_frame_is_one_final_text_frame_with_the_right_length(size: int) -> None:
    message = "x" * size
    first, payload = parse(frames.build(message))
    assert first == 0x81  # FIN, text, no RSV bits
    assert payload.decode() == message


def inflate(payload: bytes, decompressor: zlib._Decompress | None = None) -> str:
    decompressor = decompressor or zlib.decompressobj(-15)
    return decompressor.decompress(payload + b"\x00\x00\xff\xff").decode()


@pytest.mark.parametrize("wbits", [9, 12, 15])
def test_a_compressed_frame_has_rsv1_and_inflates_to_the_message(wbits: int) -> None:
    message = json.dumps({"type": "results", "options": [{"text": "é" * 50}] * 30})
    first, payload = parse(frames.build(message, wbits))
    assert first == 0xC1  # FIN, RSV1 (compressed), text
    assert len(payload) < len(message.encode())
    assert inflate(payload, zlib.decompressobj(-wbits)) == message


def test_compressed_frames_need_no_shared_context_so_one_build_serves_every_client() -> None:
    """A client keeps its window across messages (context takeover); frames compressed on
    their own must still inflate there, whatever that window holds."""
    client = zlib.decompressobj(-15)
    messages = [json.dumps({"type": "results", "seq": seq, "x": "abc" * 400}) for seq in range(5)]
    for message in messages:
        _, payload = parse(frames.build(message, 15))
        assert inflate(payload, client) == message
    # And the same message twice is the same bytes: nothing carries over between builds.
    assert frames.build(messages[0], 15) == frames.build(messages[0], 15)


def test_a_short_message_goes_uncompressed_where_deflate_was_negotiated() -> None:
    """Under COMPRESS_FROM bytes of text (characters are not bytes): a plain frame, which a
    client that keeps a window reads as it is, and the next compressed one still inflates
    there."""
    # Over 800 bytes, under 1,024.
    short = json.dumps({"type": "viewers", "x": "é" * 400}, ensure_ascii=False)
    assert frames.build(short, 15) == frames.build(short)
    first, payload = parse(frames.build(short, 15))
    assert first == 0x81 and payload.decode() == short
    # Fewer than 1,024 characters, more than 1,024 bytes.
    long = json.dumps({"type": "viewers", "x": "é" * 520}, ensure_ascii=False)
    assert len(long) < frames.COMPRESS_FROM <= len(long.encode())
    first, payload = parse(frames.build(long, 15))
    assert first == 0xC1
    assert inflate(payload, zlib.decompressobj(-15)) == long


def test_frames_are_cached_per_message_and_window() -> None:
    message = "cached " * 200
    assert frames.frame(message) is frames.frame(message)
    assert frames.frame(message, 15) is frames.frame(message, 15)
    assert frames.frame(message) != frames.frame(message, 15)
