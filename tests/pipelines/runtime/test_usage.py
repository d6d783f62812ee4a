"""Cost accounting: LM calls and tokens per step, with cache hits told apart from spent tokens."""

from __future__ import annotations

import json
from typing import Any

import dspy
from dspy.utils import DummyLM

from memspy.pipelines import Memory, create_memory_manager
from memspy.pipelines.runtime.llama_engine import AsyncLlamaEngine, LlamaEngine
from memspy.pipelines.runtime.usage import Usage


class _Llama:  # stands in for llama_cpp.Llama: a third-party class
    def __init__(self, text: str) -> None:
        self.text, self.calls = text, 0

    def reset(self) -> None:
        pass

    def create_chat_completion(self, messages: list[dict[str, str]], **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        choice = {"index": 0, "message": {"role": "assistant", "content": self.text}, "finish_reason": "stop"}
        return {"id": "x", "choices": [choice], "usage": {"prompt_tokens": 120, "completion_tokens": 9}}


def test_tokens_are_counted_and_cache_hits_cost_nothing() -> None:
    answer = {"facts": ["likes tea"]}
    llama = _Llama(json.dumps(answer))
    engine = LlamaEngine(llama=llama, name="local/usage-test-00000000")
    lm = dspy.LM(engine.name, engine=engine, async_engine=AsyncLlamaEngine(engine), cache=True)
    dspy.configure_cache(enable_disk_cache=False, enable_memory_cache=True)
    manager = create_memory_manager()
    messages = [{"role": "user", "content": "I like tea"}]
    with dspy.context(lm=lm):
        first = manager(messages=messages)
        second = manager(messages=messages)
    assert [m.content for m in first] == [Memory(content="likes tea")]
    assert (first.usage.calls, first.usage.cached_calls, first.usage.prompt_tokens) == (1, 0, 120)
    assert (second.usage.calls, second.usage.cached_calls, second.usage.total_tokens) == (1, 1, 0)
    assert llama.calls == 1
    assert "served from DSPy's cache" in str(second.usage) and manager.usage.total.calls == 2


def test_usage_merges_per_step() -> None:
    total = Usage()
    a, b = Usage(), Usage()
    a.add("extract", 2, 100, 10)
    b.add("extract", 1, 50, 5, cached=1)
    b.add("reflect", 1, 30, 3)
    total.merge(a)
    total.merge(b)
    assert total.as_dict()["by_step"]["extract"] == {
        "calls": 3,
        "cached_calls": 1,
        "prompt_tokens": 150,
        "completion_tokens": 15,
    }
    assert (total.calls, total.cached_calls, total.total_tokens) == (4, 1, 198)


def test_the_meter_counts_any_lm_in_nested_blocks_and_worker_threads() -> None:
    from memspy.pipelines.runtime import measure, predictor

    own = DummyLM([{"answer": "a"}] * 6, adapter=dspy.JSONAdapter())
    ask = predictor("question -> answer", own)  # its own LM, not the configured one
    outer, inner = Usage(), Usage()
    with dspy.context(adapter=dspy.JSONAdapter()):
        with measure(outer, "outer"):
            ask(question="q1")
            with measure(inner, "inner"):
                ask(question="q2")
        assert (outer.calls, inner.calls) == (2, 1)

        def one(i: int) -> int:
            mine = Usage()
            with measure(mine, "worker"):
                ask(question=f"w{i}")
            return mine.calls

        around = Usage()
        with measure(around, "parallel"):
            per_worker = dspy.Parallel(num_threads=3, disable_progress_bar=True)([(one, {"i": i}) for i in range(3)])
    assert per_worker == [1, 1, 1] and around.calls == 3 and around.by_step["parallel"]["calls"] == 3
