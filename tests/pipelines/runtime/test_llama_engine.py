"""The llama.cpp engine's runtime: KV prefix kept across calls, reset on request, per-signature prefix states,
one grammar per schema, calls serialized across threads, and the per-call counters (with a stand-in Llama)."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import dspy
import pytest
from dspy.lm15 import Config, Message, Request

from memspy.pipelines.runtime import llama_engine
from memspy.pipelines.runtime.llama_engine import LlamaEngine
from memspy.pipelines.runtime.llama_prefix import (
    CallStats,
    PrefixState,
    PrefixStates,
    common_prefix_length,
    family_key,
)
from memspy.pipelines.runtime.llama_request import GrammarCache, add_max_items
from memspy.pipelines.runtime.steps import accept, run_step
from memspy.pipelines.runtime.usage import Usage, measure

__all__: list[str] = []

SYSTEM_A = "Extract memories . Your input fields are conversation and existing memories ."
SYSTEM_B = "Write reflections . Your input fields are episode and existing reflections ."


class TokenLlama:
    """Stands in for ``llama_cpp.Llama`` with its KV-cache behaviour: one token per word, and the tokens of the
    last prompt plus its completion kept (``input_ids``/``n_tokens``) until ``reset``."""

    def __init__(self, answer: str = '{"ok": true}', delay: float = 0.0) -> None:
        self.answer, self.delay = answer, delay
        self.vocab: dict[str, int] = {}
        self.input_ids: list[int] = []
        self.n_tokens = 0
        self._requires_eval = True
        self.events: list[str] = []
        self.calls: list[dict[str, Any]] = []
        self.active = self.max_active = 0

    def tokens(self, text: str) -> list[int]:
        return [self.vocab.setdefault(word, len(self.vocab)) for word in text.split()]

    def prompt(self, messages: list[dict[str, str]]) -> list[int]:
        return [t for m in messages for t in self.tokens(f"<{m['role']}> {m['content']}")] + self.tokens("<assistant>")

    def reset(self) -> None:
        self.events.append("reset")
        self.n_tokens = 0
        self._requires_eval = True

    def create_chat_completion(self, messages: list[dict[str, str]], **kwargs: Any) -> dict[str, Any]:
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            self.events.append("complete")
            self.calls.append({"messages": messages, **kwargs})
            time.sleep(self.delay)
            prompt, completion = self.prompt(messages), self.tokens(self.answer)
            self.input_ids = prompt + completion
            self.n_tokens = len(self.input_ids)
            self._requires_eval = False
            choice = {"index": 0, "message": {"role": "assistant", "content": self.answer}, "finish_reason": "stop"}
            usage = {"prompt_tokens": len(prompt), "completion_tokens": len(completion)}
            return {"id": f"c{len(self.calls)}", "choices": [choice], "usage": usage}
        finally:
            self.active -= 1


def _request(system: str, user: str, schema: dict[str, Any] | None = None) -> Request:
    config = Config(response_format={"type": "json_schema", "schema": schema}) if schema else Config()
    return Request(model="local/fake", system=system, messages=(Message.user(user),), config=config)


def _saved_tokens(llm: TokenLlama) -> PrefixState:
    return PrefixState(tuple(llm.input_ids[: llm.n_tokens]), b"")


def _load_tokens(llm: TokenLlama, state: PrefixState) -> None:
    llm.input_ids, llm.n_tokens, llm._requires_eval = list(state.tokens), len(state.tokens), True


def test_prefix_is_kept_across_calls_and_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEMSPY_LM_RESET", raising=False)
    llm = TokenLlama()
    engine = LlamaEngine(llama=llm, name="local/fake")
    first = engine.complete(_request(SYSTEM_A, "user: likes tea"))
    second = engine.complete(_request(SYSTEM_A, "user: moved to Oslo"))
    assert "reset" not in llm.events
    shared = common_prefix_length(llm.prompt(llm.calls[0]["messages"]), llm.prompt(llm.calls[1]["messages"]))
    assert shared == len(llm.tokens(f"<system> {SYSTEM_A} <user> user:"))
    assert first.usage.cache_read_tokens == 0
    assert second.usage.cache_read_tokens == shared and second.usage.input_tokens == len(
        llm.prompt(llm.calls[1]["messages"])
    )
    stats = engine.last_stats
    assert stats is not None and stats.reused_tokens == shared and not stats.restored
    assert stats.evaluated_tokens == stats.prompt_tokens - shared > 0
    assert (
        stats.prompt_eval_s is None and stats.generation_s is None and stats.total_s >= 0
    )  # a stand-in has no timings
    data = second.provider_data["llama_cpp"]  # type: ignore[index]
    assert data["evaluated_tokens"] == stats.evaluated_tokens and data["prompt_tokens"] == stats.prompt_tokens
    third = engine.complete(_request(SYSTEM_A, "user: moved to Oslo"))  # same prompt again
    assert third.usage.cache_read_tokens == third.usage.input_tokens - 1  # the last token is evaluated again


def test_reset_every_call_on_request_and_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEMSPY_LM_RESET", raising=False)
    llm = TokenLlama()
    engine = LlamaEngine(llama=llm, reset_every_call=True)
    for user in ("user: a b c", "user: a b d"):
        assert engine.complete(_request(SYSTEM_A, user)).usage.cache_read_tokens == 0
    assert llm.events == ["reset", "complete", "reset", "complete"]
    assert LlamaEngine.load_state(json.loads(json.dumps(engine.dump_state())) | {"llama": llm}).reset_every_call
    monkeypatch.setenv("MEMSPY_LM_RESET", "1")
    assert (
        LlamaEngine(llama=llm).reset_every_call and not LlamaEngine(llama=llm, reset_every_call=False).reset_every_call
    )
    monkeypatch.setenv("MEMSPY_LM_RESET", "0")
    assert not LlamaEngine(llama=llm).reset_every_call


def test_two_signatures_in_turn_keep_their_own_prefix() -> None:
    llm = TokenLlama()
    states = PrefixStates(2, snapshot=_saved_tokens, restore=_load_tokens)
    engine = LlamaEngine(llama=llm, prefix_states=states)
    engine.complete(_request(SYSTEM_A, "user: one"))
    engine.complete(_request(SYSTEM_B, "episode: two"))
    assert engine.last_stats is not None and not engine.last_stats.restored and len(states) == 1
    back = engine.complete(_request(SYSTEM_A, "user: three"))  # A's prefix comes back from its saved state
    assert engine.last_stats.restored and back.usage.cache_read_tokens == len(
        llm.tokens(f"<system> {SYSTEM_A} <user> user:")
    )
    without = LlamaEngine(llama=TokenLlama(), prefix_states=0)
    for system in (SYSTEM_A, SYSTEM_B, SYSTEM_A):
        cold = without.complete(_request(system, "user: x"))
    assert cold.usage.cache_read_tokens == 1  # only "<system>" is shared with B's prompt
    with pytest.raises(ValueError, match="prefix_states"):
        PrefixStates(-1)


def test_a_compiled_program_is_its_own_family_with_its_demos_in_the_prefix() -> None:
    demo = [{"role": "user", "content": "user: I like tea"}, {"role": "assistant", "content": '{"facts": []}'}]

    def prompt(last: str, demos: list[dict[str, str]]) -> list[dict[str, str]]:
        return [{"role": "system", "content": SYSTEM_A}, *demos, {"role": "user", "content": last}]

    plain, compiled = family_key(prompt("user: one", [])), family_key(prompt("user: one", demo))
    assert plain != compiled and None not in (plain, compiled)
    assert family_key(prompt("user: two, and corrections", demo)) == compiled  # only the last message varies
    assert family_key(prompt("user: one", demo * 2)) != compiled
    assert family_key([{"role": "user", "content": "no system"}]) is None
    llm = TokenLlama()
    states = PrefixStates(2, snapshot=_saved_tokens, restore=_load_tokens)
    engine = LlamaEngine(llama=llm, prefix_states=states)
    with_demos = Request(
        model="local/fake",
        system=SYSTEM_A,
        messages=(Message.user("user: I like tea"), Message.assistant('{"facts": []}'), Message.user("user: one")),
    )
    engine.complete(with_demos)
    engine.complete(_request(SYSTEM_A, "user: two"))  # the uncompiled program: the compiled one's state is kept
    back = engine.complete(with_demos)
    assert engine.last_stats is not None and engine.last_stats.restored
    assert back.usage.cache_read_tokens == len(llm.prompt(engine.to_messages(with_demos))) - 1


def test_prefix_states_drop_the_least_recently_used_family() -> None:
    llm = TokenLlama()
    states = PrefixStates(1, snapshot=_saved_tokens, restore=_load_tokens)
    engine = LlamaEngine(llama=llm, prefix_states=states)
    for system in (SYSTEM_A, SYSTEM_B, "Consolidate episodes .", SYSTEM_A):
        engine.complete(_request(system, "user: x"))
    assert engine.last_stats is not None and not engine.last_stats.restored  # A was evicted by the third family
    assert len(states) == 1
    engine.close()
    assert len(states) == 0 and states.loaded is None


def test_grammar_compiled_once_per_schema() -> None:
    built: list[str] = []
    cache = GrammarCache(build=lambda text: built.append(text) or f"grammar-{len(built)}", capacity=2)
    llm = TokenLlama()
    engine = LlamaEngine(llama=llm, grammars=cache, max_items=3)
    schema = {"type": "object", "properties": {"xs": {"type": "array", "items": {"type": "string"}}}}
    other = {"type": "object", "properties": {"n": {"type": "integer"}}}
    for user in ("user: a", "user: b"):
        engine.complete(_request(SYSTEM_A, user, schema))
    assert len(built) == 1 and (cache.hits, cache.misses) == (1, 1)
    assert json.loads(built[0])["properties"]["xs"]["maxItems"] == 3  # the capped schema is compiled
    assert list(json.loads(built[0])["properties"]) == ["xs"]
    assert [c["grammar"] for c in llm.calls] == ["grammar-1", "grammar-1"]
    assert all("response_format" not in c for c in llm.calls)
    engine.complete(_request(SYSTEM_A, "user: c", other))
    engine.complete(_request(SYSTEM_A, "user: d", {"type": "object", "properties": {}}))
    engine.complete(_request(SYSTEM_A, "user: e", schema))  # evicted (capacity 2): compiled again
    assert len(built) == 4 and len(cache) == 2
    plain = LlamaEngine(llama=TokenLlama(), grammars=None)
    plain.grammars = None  # as when llama-cpp-python is not installed: the schema goes as response_format
    plain.complete(_request(SYSTEM_A, "user: a", schema))
    assert plain.llama.calls[0]["response_format"]["schema"]["properties"]["xs"]["maxItems"] == 12
    with pytest.raises(ValueError, match="capacity"):
        GrammarCache(capacity=0)


def test_threads_share_one_model_with_calls_serialized() -> None:
    llm = TokenLlama(delay=0.02)
    engine = LlamaEngine(llama=llm)
    seen: list[CallStats] = []
    engine.on_call = seen.append
    with ThreadPoolExecutor(max_workers=4) as pool:
        texts = list(pool.map(lambda i: engine.complete(_request(SYSTEM_A, f"user: n{i}")).text, range(8)))
    assert texts == ['{"ok": true}'] * 8 and len(llm.calls) == 8
    assert llm.max_active == 1  # never two calls inside llama.cpp at once
    assert len(seen) == 8 and sum(s.reused_tokens > 0 for s in seen) == 7  # all but the first reuse the prefix


def test_add_max_items_walks_every_array() -> None:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "items": {"type": "string"},  # a property named "items" is not an array
            "grid": {"type": "array", "items": {"type": "array", "items": {"type": "integer"}}},
            "capped": {"type": "array", "maxItems": 3, "items": {"type": "string"}},
            "many": {"type": "array", "minItems": 20, "items": {"type": "string"}},
            "maybe": {"anyOf": [{"type": "array", "items": {"$ref": "#/$defs/Node"}}, {"type": "null"}]},
            "union": {"type": ["array", "null"], "items": {"type": "string"}},
        },
        "$defs": {"Node": {"type": "object", "properties": {"children": {"type": "array", "items": {}}}}},
    }
    before = json.dumps(schema)
    capped = add_max_items(schema, 5)
    props = capped["properties"]
    assert "maxItems" not in props["items"]
    assert props["grid"]["maxItems"] == 5 and props["grid"]["items"]["maxItems"] == 5
    assert props["capped"]["maxItems"] == 3
    assert props["many"]["maxItems"] == 20
    assert props["maybe"]["anyOf"][0]["maxItems"] == 5 and "maxItems" not in props["maybe"]["anyOf"][1]
    assert props["union"]["maxItems"] == 5
    assert capped["$defs"]["Node"]["properties"]["children"]["maxItems"] == 5
    assert json.dumps(schema) == before  # the input is not modified
    assert add_max_items({"type": "array"})["maxItems"] == 12


class Remember(dspy.Signature):
    """List what is worth remembering about the user."""

    conversation: str = dspy.InputField()
    facts: list[str] = dspy.OutputField()


def test_usage_meter_shows_reused_tokens_and_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    reads = iter([0.25, 0.5])  # seconds of prompt evaluation llama.cpp reports for the two calls

    def prompt_eval_seconds(llm: Any, reset: bool = False) -> float:
        return 0.0 if reset else next(reads)

    monkeypatch.setattr(llama_engine, "prompt_eval_seconds", prompt_eval_seconds)
    engine = LlamaEngine(llama=TokenLlama(json.dumps({"facts": ["likes tea"]})), name="local/usage-00000000")
    lm = dspy.LM(engine.name, engine=engine, async_engine=llama_engine.AsyncLlamaEngine(engine), cache=False)
    first, second, total = Usage(), Usage(), Usage()
    with dspy.context(lm=lm, adapter=dspy.JSONAdapter()):
        for usage, text in ((first, "user: I like tea"), (second, "user: I like green tea")):
            with measure(usage, "remember"):
                assert dspy.Predict(Remember)(conversation=text).facts == ["likes tea"]
            total.merge(usage)
    stats = engine.last_stats
    assert stats is not None and first.reused_prompt_tokens == 0 and first.prompt_eval_s == 0.25
    assert second.reused_prompt_tokens == stats.reused_tokens > 0 and second.prompt_tokens == stats.prompt_tokens
    assert second.prompt_eval_s == 0.5 and second.generation_s == stats.generation_s
    assert second.by_step["remember"]["reused_prompt_tokens"] == stats.reused_tokens
    assert "prompt tokens reused" in str(second) and "0.5s prompt eval" in str(second)
    assert total.reused_prompt_tokens == stats.reused_tokens and total.prompt_eval_s == 0.75
    assert CallStats.from_dict(stats.as_dict()) == stats


def test_thread_defaults_follow_the_measurement(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEMSPY_LM_THREADS", raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    engine = LlamaEngine(llama=TokenLlama())
    assert (engine.n_threads, engine.n_threads_batch) == (1, 2)  # generate on 1 thread, evaluate prompts on 2
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert (LlamaEngine(llama=TokenLlama()).n_threads, LlamaEngine(llama=TokenLlama()).n_threads_batch) == (2, 2)
    monkeypatch.setenv("MEMSPY_LM_THREADS", "3")
    assert (LlamaEngine(llama=TokenLlama()).n_threads, LlamaEngine(llama=TokenLlama()).n_threads_batch) == (3, 3)
    explicit = LlamaEngine(llama=TokenLlama(), n_threads=1, n_threads_batch=4)
    assert (explicit.n_threads, explicit.n_threads_batch) == (1, 4)
    assert explicit.dump_state()["n_threads_batch"] == 4 and explicit.dump_state()["greedy_grammar"]


def test_async_calls_report_their_counters_to_the_calling_thread() -> None:
    import asyncio

    engine = LlamaEngine(llama=TokenLlama(json.dumps({"facts": ["likes tea"]})), name="local/async-00000000")
    lm = dspy.LM(engine.name, engine=engine, async_engine=llama_engine.AsyncLlamaEngine(engine), cache=False)
    usage = Usage()

    async def run() -> None:
        with dspy.context(lm=lm, adapter=dspy.JSONAdapter()), measure(usage, "remember"):
            for text in ("user: I like tea", "user: I like green tea"):
                await dspy.Predict(Remember).acall(conversation=text)

    asyncio.run(run())
    assert engine.last_stats is not None and usage.calls == 2
    assert usage.reused_prompt_tokens == engine.last_stats.reused_tokens > 0
    assert engine.thread_stats()[1] == engine.last_stats  # recorded in this (the event loop's) thread too


def test_the_layout_grammar_allows_newlines_and_indentation_where_a_space_goes() -> None:
    pytest.importorskip("llama_cpp")
    from llama_cpp import llama_grammar

    from memspy.pipelines.runtime.llama_request import SPACE_RULE, llama_grammar_from_schema, schema_gbnf

    schema = json.dumps({"type": "object", "properties": {"facts": {"type": "array", "items": {"type": "string"}}}})
    stock = llama_grammar.json_schema_to_gbnf(schema)
    assert schema_gbnf(schema) == stock and 'space ::= " "?' in stock  # one space at most, as llama-cpp-python
    rules = schema_gbnf(schema, layout=True).splitlines()
    assert SPACE_RULE in rules and not any(r.startswith("space ::=") and r != SPACE_RULE for r in rules)
    assert [r for r in rules if r[:9] != "space ::="] == [r for r in stock.splitlines() if r[:9] != "space ::="]
    assert isinstance(llama_grammar_from_schema(schema, layout=True), llama_grammar.LlamaGrammar)  # llama.cpp parses


def test_only_prompts_with_laid_out_demo_answers_get_the_layout_grammar() -> None:
    built: list[tuple[str, bool]] = []
    cache = GrammarCache(build=lambda text, layout=False: built.append((text, layout)) or len(built))
    engine = LlamaEngine(llama=TokenLlama(), grammars=cache, max_items=3, prefix_states=0)
    fmt = {"type": "object", "properties": {"xs": {"type": "array", "items": {"type": "string"}}}}
    demo = [Message.user("user: a"), Message.assistant('{\n  "xs": ["a"]\n}'), Message.user("user: b")]
    compact = [Message.user("user: a"), Message.assistant('{"xs": ["a"]}'), Message.user("user: b")]
    for messages in ([Message.user("user: b")], compact, demo, demo):
        config = Config(response_format={"type": "json_schema", "schema": fmt})
        engine.complete(Request(model="local/fake", system=SYSTEM_A, messages=tuple(messages), config=config))
    assert [layout for _, layout in built] == [False, True]  # zero-shot and compact demos share one grammar


class LoopingLlama(TokenLlama):
    """Its first answer is ended by the repeat guard mid-string, as llama.cpp returns it (finish "stop")."""

    def create_chat_completion(self, messages: list[dict[str, str]], **kwargs: Any) -> dict[str, Any]:
        first = not self.calls
        self.answer = '{"facts": ["likes tea tea tea tea' if first else json.dumps({"facts": ["likes tea"]})
        self.memspy_sampler = type("Sampler", (), {"looped": first})()
        return super().create_chat_completion(messages, **kwargs)


class RememberAgain(Remember):
    """List what is worth remembering about the user."""

    corrections: str = dspy.InputField()


def test_an_answer_ended_as_a_loop_reads_as_cut_off_and_is_retried() -> None:
    llm = LoopingLlama()
    engine = LlamaEngine(llama=llm, name="local/loop-00000000")
    lm = dspy.LM(engine.name, engine=engine, async_engine=llama_engine.AsyncLlamaEngine(engine), cache=False)
    usage = Usage()
    with dspy.context(lm=lm):
        facts = run_step(dspy.Predict(RememberAgain), "remember", usage, accept, 1, conversation="user: I like tea")
    assert facts.facts == ["likes tea"] and len(llm.calls) == 2 and usage.calls == 2
    assert "cut off" in llm.calls[1]["messages"][-1]["content"]  # the retry was told why
    first = lm.history[0]["response"]
    assert first.finish_reason == "length" and first.provider_data["llama_cpp"]["looped"] is True
    assert engine.last_stats is not None and not engine.last_stats.looped
