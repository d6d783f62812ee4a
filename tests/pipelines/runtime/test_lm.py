"""Tests for the LM runtime: the llama.cpp engine (with a stand-in Llama), model naming, and the API-key path."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import dspy
import pydantic
import pytest
from dspy.lm15 import Config, ContextLengthError, ImagePart, Message, Request, UnsupportedFeatureError

from memspy.pipelines.errors import LocalModelUnavailableError
from memspy.pipelines.runtime import lm as lm_module
from memspy.pipelines.runtime.llama_engine import AsyncLlamaEngine, LlamaEngine, default_n_threads
from memspy.pipelines.runtime.llama_request import GrammarCache
from memspy.pipelines.runtime.lm import build_lm, check_lm, configure_lm, resolve_model_name
from memspy.pipelines.runtime.model_files import local_lm_name

__all__: list[str] = []


class FakeLlama:
    """Stands in for ``llama_cpp.Llama``: records calls and answers with canned texts."""

    def __init__(self, *texts: str, finish_reason: str = "stop") -> None:
        self.texts = list(texts)
        self.finish_reason = finish_reason
        self.events: list[str] = []
        self.calls: list[dict[str, Any]] = []

    def reset(self) -> None:
        self.events.append("reset")

    def create_chat_completion(self, messages: list[dict[str, str]], **kwargs: Any) -> dict[str, Any]:
        self.events.append("complete")
        self.calls.append({"messages": messages, **kwargs})
        text = self.texts.pop(0) if len(self.texts) > 1 else self.texts[0]
        choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": self.finish_reason}
        usage = {"prompt_tokens": 100 + len(self.calls), "completion_tokens": 7}
        return {"id": f"chatcmpl-{len(self.calls)}", "choices": [choice], "usage": usage}


class Fact(pydantic.BaseModel):
    subject: str
    tags: list[str]


class ExtractFacts(dspy.Signature):
    """Extract durable facts about the user from the conversation."""

    conversation: str = dspy.InputField()
    facts: list[Fact] = dspy.OutputField()


def _schemas() -> GrammarCache:
    """A grammar cache whose "grammar" is the schema itself, so tests can read what would be compiled."""
    return GrammarCache(build=json.loads)


def _lm(fake: FakeLlama, **kwargs: Any) -> dspy.LM:
    engine = LlamaEngine(llama=fake, name="local/fake-q4_k_m-00000000", grammars=_schemas(), **kwargs)
    return dspy.LM(engine.name, engine=engine, async_engine=AsyncLlamaEngine(engine), cache=False)


def test_request_becomes_chat_messages() -> None:
    engine = LlamaEngine(llama=FakeLlama("x"))
    turns = (Message.user("hi"), Message.assistant("hello"), Message.developer("new rule"), Message.user(["a", "b"]))
    request = Request(model="local/x", system="Be terse.", messages=turns)
    assert engine.to_messages(request) == [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "system", "content": "new rule"},
        {"role": "user", "content": "a\nb"},
    ]
    image = Request(model="local/x", messages=(Message.user(ImagePart(url="https://example.com/a.png")),))
    with pytest.raises(UnsupportedFeatureError, match="image"):
        engine.to_messages(image)


def test_complete_maps_config_and_reports_usage() -> None:
    fake = FakeLlama("first", "second", finish_reason="length")
    engine = LlamaEngine(llama=fake, name="local/fake", temperature=0.0, max_tokens=64, grammars=_schemas())
    schema = {"type": "object", "properties": {"xs": {"type": "array", "items": {"type": "string"}}}}
    config = Config(response_format={"type": "json_schema", "schema": schema}, stop=("END",), seed=3)
    request = Request(model="local/fake", messages=(Message.user("go"),), config=config)
    first = engine.complete(request)
    second = engine.complete(Request(model="local/fake", messages=(Message.user("again"),)))
    assert fake.events == ["complete", "complete"]  # the KV cache is kept: no reset between calls
    assert first.text == "first" and second.text == "second"
    assert first.finish_reason == "length"
    assert (first.usage.input_tokens, first.usage.output_tokens, first.usage.total_tokens) == (101, 7, 108)
    sent = fake.calls[0]
    assert sent["grammar"]["properties"]["xs"]["maxItems"] == 12 and "response_format" not in sent
    assert (sent["temperature"], sent["max_tokens"], sent["stop"], sent["seed"]) == (0.0, 64, ["END"], 3)
    assert "grammar" not in fake.calls[1] and "response_format" not in fake.calls[1]
    json_mode = Config(response_format={"type": "json_object"})
    engine.complete(Request(model="local/fake", messages=(Message.user("json"),), config=json_mode))
    assert fake.calls[2]["response_format"] == {"type": "json_object"}


def test_context_overflow_becomes_context_length_error_and_state_round_trips(tmp_path: Path) -> None:
    class TooLong(FakeLlama):
        def create_chat_completion(self, messages: list[dict[str, str]], **kwargs: Any) -> dict[str, Any]:
            raise ValueError("Requested tokens (9000) exceed context window of 8192")

    with pytest.raises(ContextLengthError, match="exceed context window"):
        LlamaEngine(llama=TooLong("x")).complete(Request(model="local/x", messages=(Message.user("long"),)))
    model = tmp_path / "m-q8_0.gguf"
    model.write_bytes(b"m")
    engine = LlamaEngine(model, n_ctx=2048, max_items=3, n_threads=1)
    clone = LlamaEngine.load_state(json.loads(json.dumps(engine.dump_state())))
    assert clone.dump_state() == engine.dump_state() and clone.model_path == model and clone.n_ctx == 2048


def test_predict_through_json_adapter_parses_and_tracks_usage() -> None:
    answer = {"facts": [{"subject": "user", "tags": ["likes tea", "lives in Oslo"]}]}
    fake = FakeLlama(json.dumps(answer))
    lm = _lm(fake, max_items=4)
    conversation = "user: I love tea.\nassistant: Noted!\nuser: I moved to Oslo last year."
    with dspy.context(lm=lm, adapter=dspy.JSONAdapter(), track_usage=True):
        prediction = dspy.Predict(ExtractFacts)(conversation=conversation)
    assert prediction.facts == [Fact(subject="user", tags=["likes tea", "lives in Oslo"])]
    usage = prediction.get_lm_usage()[lm.model]
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (101, 7)
    sent = fake.calls[0]
    assert fake.events == ["complete"]
    assert sent["messages"][0]["role"] == "system" and "I moved to Oslo" in sent["messages"][-1]["content"]
    schema = sent["grammar"]
    assert schema["properties"]["facts"]["maxItems"] == 4
    assert schema["$defs"]["Fact"]["properties"]["tags"]["maxItems"] == 4


def test_async_predict_uses_the_async_engine() -> None:
    fake = FakeLlama(json.dumps({"facts": []}))
    lm = _lm(fake)

    async def run() -> dspy.Prediction:
        with dspy.context(lm=lm, adapter=dspy.JSONAdapter()):
            return await dspy.Predict(ExtractFacts).acall(conversation="user: hi")

    assert asyncio.run(run()).facts == []
    assert fake.events == ["complete"]


def test_default_n_threads_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEMSPY_LM_THREADS", raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 16)
    assert default_n_threads() == 2
    monkeypatch.setattr("os.cpu_count", lambda: None)
    assert default_n_threads() == 1
    monkeypatch.setenv("MEMSPY_LM_THREADS", "6")
    assert default_n_threads() == 6
    assert default_n_threads(3) == 3
    monkeypatch.setenv("MEMSPY_LM_THREADS", "many")
    with pytest.raises(ValueError, match="MEMSPY_LM_THREADS"):
        default_n_threads()
    assert LlamaEngine(llama=FakeLlama("x"), n_threads=5).n_threads == 5


def test_resolve_model_name_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEMSPY_LM", raising=False)
    assert resolve_model_name() == "local"
    monkeypatch.setenv("MEMSPY_LM", "openai/gpt-4o-mini")
    assert resolve_model_name() == "openai/gpt-4o-mini"
    assert resolve_model_name("anthropic/claude-x") == "anthropic/claude-x"


def test_build_local_without_model_file_says_make_local(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MEMSPY_HOME", str(tmp_path))
    monkeypatch.delenv("MEMSPY_LM", raising=False)
    for name in (None, "local", "local/qwen2.5-coder-1.5b-q4_k_m"):
        with pytest.raises(LocalModelUnavailableError, match="make local") as info:
            build_lm(name)
        assert str(tmp_path) in str(info.value)
    assert issubclass(LocalModelUnavailableError, RuntimeError)


def test_build_local_without_llama_cpp_says_make_local(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    model = tmp_path / "models" / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
    model.parent.mkdir()
    model.write_bytes(b"not really a model")
    short_hash = hashlib.sha256(b"not really a model").hexdigest()[:8]
    monkeypatch.setenv("MEMSPY_HOME", str(tmp_path))
    monkeypatch.setattr(lm_module, "_llama_cpp_available", lambda: False)
    with pytest.raises(LocalModelUnavailableError, match=r"llama-cpp-python.*make local"):
        build_lm("local")
    monkeypatch.setattr(lm_module, "_llama_cpp_available", lambda: True)
    lm = build_lm("local", n_threads=3)
    engine = lm.engine
    assert isinstance(engine, LlamaEngine) and engine.n_threads == 3
    assert lm.model == f"local/qwen2.5-coder-1.5b-instruct-q4_k_m-{short_hash}" == local_lm_name(model)
    assert lm.kwargs["temperature"] == 0.0 and lm.supports_response_schema
    assert engine._llama is None  # nothing is loaded until the first call


def test_check_lm_reports_success_and_failure() -> None:
    ok, detail = check_lm(_lm(FakeLlama("OK")))
    assert ok and "OK" in detail and "\n" not in detail

    class Broken(FakeLlama):
        def create_chat_completion(self, messages: list[dict[str, str]], **kwargs: Any) -> dict[str, Any]:
            raise RuntimeError("model exploded\nwith details")

    ok, detail = check_lm(_lm(Broken("unused")))
    assert not ok and "model exploded" in detail and "\n" not in detail
    ok, _ = check_lm(_lm(FakeLlama("   ")))
    assert not ok


@contextlib.contextmanager
def _fake_openai_server(answer: dict[str, Any]) -> Iterator[tuple[str, list[tuple[str, Any, Any]]]]:
    """A tiny OpenAI-compatible chat-completions server on 127.0.0.1 answering ``answer`` as JSON content."""
    seen: list[tuple[str, Any, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append((self.path, self.headers.get("Authorization"), body))
            content = json.dumps(answer)
            choice = {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}
            usage = {"prompt_tokens": 21, "completion_tokens": 4, "total_tokens": 25}
            payload = json.dumps({"id": "chatcmpl-fake", "choices": [choice], "usage": usage}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.allow_hosts(["127.0.0.1"])
def test_api_key_model_runs_against_openai_compatible_server() -> None:
    with _fake_openai_server({"answer": "Paris"}) as (base, seen):
        lm = build_lm("openai/test-model", api_base=base, api_key="x", cache=False)
        assert not isinstance(lm.engine, LlamaEngine)
        with dspy.context(lm=lm, adapter=lm_module.default_adapter(lm), track_usage=True):
            prediction = dspy.Predict("question -> answer")(question="What is the capital of France?")
    assert prediction.answer == "Paris"
    assert prediction.get_lm_usage()["openai/test-model"]["prompt_tokens"] == 21
    assert len(seen) == 1
    path, auth, body = seen[0]
    assert path == "/v1/chat/completions" and auth == "Bearer x" and body["model"] == "test-model"
    assert "capital of France" in body["messages"][-1]["content"]


@pytest.mark.allow_hosts(["127.0.0.1"])
def test_configure_lm_sets_lm_and_json_adapter() -> None:
    def body(base: str) -> str:
        # A fresh context: no dspy.context() override (conftest sets one) hides the global configuration.
        saved = (dspy.settings.get("lm"), dspy.settings.get("adapter"))
        try:
            lm = configure_lm("openai/test-model", api_base=base, api_key="x", cache=False)
            assert dspy.settings.lm is lm and isinstance(dspy.settings.adapter, dspy.JSONAdapter)
            return str(dspy.Predict("question -> answer")(question="6*7?").answer)
        finally:
            dspy.configure(lm=saved[0], adapter=saved[1])

    with _fake_openai_server({"answer": "42"}) as (base, seen):
        assert contextvars.Context().run(body, base) == "42"
    assert len(seen) == 1
