"""LangChain message objects (and their dict form) are read wherever messages are, tool calls and results included."""

from __future__ import annotations

from langchain_core.messages import AIMessage, AIMessageChunk, ChatMessage, HumanMessage, SystemMessage, ToolMessage

from memspy.pipelines import render_transcript
from memspy.pipelines.runtime.messages import message_ids, normalize_messages

CONVERSATION = [
    SystemMessage("Be brief."),
    HumanMessage("I moved to Lyon last month.", id="h1"),
    AIMessage("", id="a1", tool_calls=[{"name": "manage_memory", "args": {"content": "Lives in Lyon"}, "id": "c1"}]),
    ToolMessage("created memory k1", tool_call_id="c1", name="manage_memory", id="t1"),
    AIMessageChunk(content="Noted!", id="a2"),
]


def test_langchain_objects_render_with_roles_tool_calls_and_results() -> None:
    lines = render_transcript(CONVERSATION).splitlines()
    assert lines == [
        "[0] system: Be brief.",
        "[1] user: I moved to Lyon last month.",
        '[2] assistant: [tool call manage_memory({"content": "Lives in Lyon"}) id=c1]',
        "[3] tool result from manage_memory for c1: created memory k1",
        "[4] assistant: Noted!",
    ]
    assert message_ids(CONVERSATION) == ["0", "h1", "a1", "t1", "a2"]


def test_anthropic_style_content_blocks_are_not_doubled_by_tool_calls() -> None:
    msg = AIMessage(
        content=[
            {"type": "text", "text": "Searching."},
            {"type": "tool_use", "id": "c2", "name": "search", "input": {"q": "x"}},
        ],
        tool_calls=[{"name": "search", "args": {"q": "x"}, "id": "c2"}],
    )
    assert render_transcript([msg]) == '[0] assistant: Searching. [tool call search({"q": "x"}) id=c2]'


def test_dict_form_and_chat_messages() -> None:
    out = normalize_messages(
        [
            {"type": "human", "content": "hi", "id": "m1"},
            HumanMessage("hello").model_dump(),
            ChatMessage(role="developer", content="be nice"),
        ]
    )
    assert [m["role"] for m in out] == ["user", "user", "developer"]
    assert out[0]["id"] == "m1"
