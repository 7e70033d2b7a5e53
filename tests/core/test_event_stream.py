"""Reading the event stream: events cut anywhere by the network, line endings, UTF-8, [DONE], errors, tool calls."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.assistant.event_stream import (
    EventStreamDecoder,
    MalformedEvent,
    StreamChunk,
    StreamError,
    ToolCallDelta,
    chunk_from_event,
)


def event(delta: dict[str, Any], finish: str | None = None) -> bytes:
    chunk = {"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta,
                                                                        "finish_reason": finish}]}
    return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode()


def body(texts: list[str], finish: str = "stop") -> bytes:
    return b"".join([*(event({"content": t}) for t in texts), event({}, finish), b"data: [DONE]\n\n"])


def feed_all(decoder: EventStreamDecoder, pieces: list[bytes]) -> list[StreamChunk]:
    chunks = [decoder.feed(piece) for piece in pieces]
    return [c for c in chunks if c is not None]


def text_of(chunks: list[StreamChunk]) -> str:
    return "".join(c.text for c in chunks)


def cut(data: bytes, points: list[int]) -> list[bytes]:
    edges = [0, *sorted(set(points)), len(data)]
    return [data[a:b] for a, b in zip(edges, edges[1:], strict=False)]


TEXTS = ["Hé", "llo ", "wörld ", "— ", "日本語 ", "🙂", "\u2028line", " end"]


@given(st.lists(st.integers(min_value=0, max_value=len(body(TEXTS))), max_size=40))
def test_events_cut_anywhere_read_the_same(points: list[int]) -> None:
    """The network may cut the body anywhere, a UTF-8 character or a CRLF included."""
    data = body(TEXTS)
    decoder = EventStreamDecoder()
    chunks = feed_all(decoder, cut(data, points))
    assert text_of(chunks) == "".join(TEXTS)
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["stop"]
    assert decoder.done and decoder.recognised


@given(st.sampled_from([b"\r\n", b"\r", b"\n"]), st.lists(st.integers(min_value=0, max_value=400), max_size=20))
def test_every_line_ending_is_understood(ending: bytes, points: list[int]) -> None:
    data = body(["a", "b\u2028c", "d"]).replace(b"\n", ending)
    decoder = EventStreamDecoder()
    assert text_of(feed_all(decoder, cut(data, points))) == "ab\u2028cd" and decoder.done


def test_a_multi_byte_character_split_between_reads() -> None:
    data = event({"content": "日本"})
    split = data.index("本".encode()) + 1  # inside the three bytes of 本
    decoder = EventStreamDecoder()
    assert decoder.feed(data[:split]) is None
    chunk = decoder.feed(data[split:])
    assert chunk is not None and chunk.text == "日本"


def test_a_cr_at_the_end_of_one_read_and_lf_at_the_start_of_the_next_end_one_line() -> None:
    decoder = EventStreamDecoder()
    first = event({"content": "x"}).replace(b"\n\n", b"\r\n\r")
    assert decoder.feed(first[:-1]) is None  # "...\r\n\r" minus the last CR: the event is not closed yet
    chunk = decoder.feed(b"\r")  # CR: the blank line that closes the event
    assert chunk is not None and chunk.text == "x"
    assert decoder.feed(b"\n") is None  # the LF of that CRLF, not another blank line
    assert decoder.feed(event({"content": "y"})) == StreamChunk("y")


def test_events_of_one_read_are_merged_in_order() -> None:
    calls = [{"index": 0, "id": "call_a", "type": "function", "function": {"name": "read_file", "arguments": ""}},
             {"index": 0, "function": {"arguments": '{"file_'}},
             {"index": 0, "function": {"arguments": 'path": "a"}'}}]
    data = event({"content": "Let me look. "}) + b"".join(event({"tool_calls": [c]}) for c in calls)
    data += event({}, "tool_calls")
    chunk = EventStreamDecoder().feed(data)
    assert chunk == StreamChunk("Let me look. ", (
        ToolCallDelta(0, "call_a", "read_file", ""),
        ToolCallDelta(0, "", "", '{"file_'),
        ToolCallDelta(0, "", "", 'path": "a"}'),
    ), "tool_calls")


def test_done_ends_the_stream_and_what_follows_is_ignored() -> None:
    decoder = EventStreamDecoder()
    chunk = decoder.feed(event({"content": "a"}) + b"data: [DONE]\n\n" + event({"content": "late"}))
    assert chunk == StreamChunk("a") and decoder.done
    assert decoder.feed(event({"content": "later"})) is None


def test_comments_other_fields_and_multi_line_data() -> None:
    payload = json.dumps({"choices": [{"delta": {"content": "two\nlines"}}]}, indent=1)
    data = (b": keep-alive\n\nevent: message\nid: 7\nretry: 100\n"
            + b"".join(b"data: " + line.encode() + b"\n" for line in payload.splitlines()) + b"\n")
    assert EventStreamDecoder().feed(data) == StreamChunk("two\nlines")


def test_an_event_cut_off_by_the_end_of_the_body_is_not_dispatched() -> None:
    decoder = EventStreamDecoder()
    assert decoder.feed(event({"content": "whole"}) + event({"content": "cut"})[:-1]) == StreamChunk("whole")
    assert not decoder.done  # the client then sees a stream that ended without finishing


def test_malformed_json_is_a_clear_error() -> None:
    decoder = EventStreamDecoder()
    with pytest.raises(MalformedEvent, match=r"an event's data is not JSON: '\{\"choices\": \[\{'"):
        decoder.feed(b'data: {"choices": [{\n\n')


def test_an_error_event_raises_with_the_servers_message() -> None:
    data = event({"content": "partial"}) + b'data: {"error": {"message": "overloaded", "type": "server_error"}}\n\n'
    with pytest.raises(StreamError) as caught:
        EventStreamDecoder().feed(data)
    assert caught.value.message == "overloaded" and caught.value.body == {"message": "overloaded",
                                                                          "type": "server_error"}


def test_what_is_not_a_chat_chunk() -> None:
    assert chunk_from_event([1, 2]) is None and chunk_from_event({"object": "other"}) is None
    assert chunk_from_event({"choices": []}) == StreamChunk()  # usage-only chunks are chat chunks
    odd = chunk_from_event({"choices": [{"delta": {"content": 5, "tool_calls": [{"index": True, "id": 3}]},
                                         "finish_reason": 1}]})
    assert odd == StreamChunk("", (ToolCallDelta(None, "", "", ""),), None)
    with pytest.raises(StreamError, match="an error occurred during streaming"):
        chunk_from_event({"error": "bad"})


def test_json_that_is_not_a_chat_chunk_leaves_the_stream_unrecognised() -> None:
    decoder = EventStreamDecoder()
    assert decoder.feed(b'data: {"hello": "world"}\n\n') is None and not decoder.recognised
