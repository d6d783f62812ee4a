"""Short-term memory: running summaries keep a conversation within its token budget."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypedDict

import dspy
import pytest
from dspy.utils import DummyLM
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langgraph.graph import START, StateGraph

from memspy.pipelines import RunningSummary, SummarizationNode, summarize_messages
from memspy.pipelines.semantic.summarization import SUMMARY_PREFIX, litellm_counter


def words(messages: Sequence[Any]) -> int:  # a counter tests can reason about: one token per word
    total = 0
    for m in messages:
        content = m["content"] if isinstance(m, dict) else m.content
        total += len(str(content).split())
    return total


def turn(i: int) -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": f"question {i} " + "word " * 8, "id": f"u{i}"},
        {"role": "assistant", "content": f"answer {i} " + "word " * 8, "id": f"a{i}"},
    ]


def lm(*summaries: str) -> DummyLM:
    return DummyLM([{"summary": s} for s in summaries], adapter=dspy.JSONAdapter())


def test_under_budget_nothing_is_summarized_and_no_lm_is_called() -> None:
    msgs = [{"role": "system", "content": "Be kind."}, *turn(1)]
    with dspy.context(lm=lm()):
        result = summarize_messages(msgs, max_tokens=100, max_summary_tokens=20, token_counter=words)
    assert result.messages == msgs and result.running_summary is None and result.usage.calls == 0


def test_over_budget_the_oldest_messages_become_a_summary_and_the_rest_fit() -> None:
    msgs = [{"role": "system", "content": "Be kind."}] + [m for i in range(1, 6) for m in turn(i)]  # 10 x 10 words
    scripted = lm("The user asked questions 1 to 3 and got answers.")
    with dspy.context(lm=scripted):
        result = summarize_messages(msgs, max_tokens=60, max_summary_tokens=20, token_counter=words)
    out = result.messages
    assert out[0] == msgs[0]
    assert out[1] == {"role": "system", "content": SUMMARY_PREFIX + "The user asked questions 1 to 3 and got answers."}
    assert [m["id"] for m in out[2:]] == ["u4", "a4", "u5", "a5"]
    assert words(out[2:]) <= 60 - 20
    rs = result.running_summary
    assert rs is not None and rs.summarized_message_ids == {"u1", "a1", "u2", "a2", "u3", "a3"}
    assert rs.last_summarized_message_id == "a3"
    prompt = scripted.history[-1]["messages"][-1]["content"]
    assert "question 1" in prompt and "question 4" not in prompt


def test_the_running_summary_is_extended_only_with_new_messages() -> None:
    msgs = [m for i in range(1, 4) for m in turn(i)]
    running = RunningSummary("Earlier: questions 1 and 2.", {"u1", "a1", "u2", "a2"}, "a2")
    with dspy.context(lm=lm()):
        same = summarize_messages(
            msgs, running_summary=running, max_tokens=60, max_summary_tokens=20, token_counter=words
        )
    assert same.running_summary is running
    assert [m.get("id") for m in same.messages] == [None, "u3", "a3"]  # the summary, then the unsummarized turn
    more = msgs + [m for i in range(4, 8) for m in turn(i)]
    scripted = lm("Questions 1 to 5.")
    with dspy.context(lm=scripted):
        result = summarize_messages(
            more, running_summary=running, max_tokens=40, max_summary_tokens=10, token_counter=words
        )
    content = scripted.history[-1]["messages"][-1]["content"]
    assert "Earlier: questions 1 and 2." in content and "question 1 " not in content and "question 3" in content
    assert result.running_summary is not None and {"u3", "a5"} <= result.running_summary.summarized_message_ids


def test_a_tool_result_is_never_kept_without_its_call() -> None:
    msgs = [
        HumanMessage("find my notes " + "x " * 20, id="h1"),
        AIMessage(
            "let me search " + "z " * 7, id="a1", tool_calls=[{"name": "search", "args": {"q": "notes"}, "id": "c1"}]
        ),
        ToolMessage("notes: " + "y " * 5, tool_call_id="c1", id="t1"),
        AIMessage("Here they are.", id="a2"),
    ]
    with dspy.context(lm=lm("The user asked for notes; a search ran.")):
        result = summarize_messages(msgs, max_tokens=25, max_summary_tokens=10, token_counter=words)
    assert isinstance(result.messages[0], SystemMessage)
    assert [m.id for m in result.messages[1:]] == ["a2"]


def test_a_summary_far_over_its_budget_is_sent_back_once() -> None:
    msgs = [m for i in range(1, 6) for m in turn(i)]
    scripted = lm("long " * 100, "Short summary.")
    with dspy.context(lm=scripted):
        result = summarize_messages(msgs, max_tokens=50, max_summary_tokens=20, token_counter=words)
    assert result.running_summary is not None and result.running_summary.summary == "Short summary."
    assert "words; the budget is 15" in scripted.history[-1]["messages"][-1]["content"]
    with pytest.raises(ValueError, match="max_summary_tokens"):
        summarize_messages(msgs, max_tokens=10, max_summary_tokens=10)


def test_the_default_counter_is_a_real_tokenizer() -> None:
    count = litellm_counter("openai/gpt-4o-mini")
    short, long = (
        count([{"role": "user", "content": "hi"}]),
        count([{"role": "user", "content": "internationalization " * 10}]),
    )
    assert 0 < short < long and long >= 10


class State(TypedDict, total=False):
    messages: list[Any]
    summarized_messages: list[Any]
    context: dict[str, Any]
    seen: int


def test_summarization_node_in_a_graph() -> None:
    node = SummarizationNode(max_tokens=40, max_summary_tokens=10, token_counter=words)

    def model(state: State) -> State:
        return {"seen": len(state["summarized_messages"])}

    graph = StateGraph(State).add_node("summarize", node).add_node("model", model)
    graph = graph.add_edge(START, "summarize").add_edge("summarize", "model").compile()
    msgs = [m for i in range(1, 6) for m in turn(i)]
    with dspy.context(lm=lm("Questions 1 to 3.")):
        out = graph.invoke({"messages": msgs})
    assert out["messages"] == msgs  # the full history stays
    assert out["seen"] == 1 + 3 and out["context"]["running_summary"].summary == "Questions 1 to 3."
    assert out["summarized_messages"][0]["content"] == SUMMARY_PREFIX + "Questions 1 to 3."
    assert out["summarized_messages"][1:] == msgs[-3:]
