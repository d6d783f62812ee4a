"""Transcripts keep every message, tool calls and results included, in OpenAI and Anthropic shapes."""

from __future__ import annotations

import pytest

from memspy.pipelines import MessageError, render_transcript


def test_openai_tool_calls_and_results() -> None:
    text = render_transcript(
        [
            {"role": "user", "content": "Book a table for two"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "book", "arguments": '{"people": 2}'}}
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "name": "book", "content": "confirmed #42"},
        ]
    )
    lines = text.splitlines()
    assert lines[0] == "[0] user: Book a table for two"
    assert 'book({"people": 2}) id=c1' in lines[1]
    assert lines[2] == "[2] tool result from book for c1: confirmed #42"


def test_anthropic_blocks() -> None:
    text = render_transcript(
        [
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "t1", "name": "weather", "input": {"city": "Paris"}},
                ],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "rain", "is_error": True}],
            },
        ]
    )
    assert 'Checking. [tool call weather({"city": "Paris"}) id=t1]' in text
    assert "[tool result error for t1: rain]" in text


def test_bad_messages_are_named() -> None:
    with pytest.raises(MessageError, match=r"messages\[1\]"):
        render_transcript([{"role": "user", "content": "hi"}, {"content": "no role"}])
    with pytest.raises(MessageError, match=r"messages\[0\]"):
        render_transcript([42])


def test_supporting_messages_point_at_the_source_turns() -> None:
    from memspy.pipelines.runtime.messages import supporting_messages

    msgs = [
        {"role": "user", "content": "I adopted a beagle puppy called Biscuit last week."},
        {"role": "assistant", "content": "Lovely! How is the training going?"},
        {"role": "user", "content": "I am training for the Lisbon half marathon."},
    ]
    ids = ["D1:1", "D1:2", "D1:3"]
    assert supporting_messages("The user has a beagle named Biscuit", msgs, ids) == ["D1:1"]
    assert supporting_messages("Runs the Lisbon half marathon", msgs, ids) == ["D1:3"]
    assert supporting_messages("Completely unrelated words", msgs, ids) == ids
