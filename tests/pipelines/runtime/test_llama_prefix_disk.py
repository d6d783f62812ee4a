"""Signature prefixes on disk: what two calls of a signature share is saved (never the last message), and a new
engine on the same folder starts warm; ``warm`` writes them ahead of the first call; unreadable or refused files
are dropped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dspy
import pytest
from dspy.lm15 import Message, Request

from memspy.pipelines.runtime.llama_engine import LlamaEngine
from memspy.pipelines.runtime.llama_prefix import PrefixState, PrefixStates
from memspy.pipelines.runtime.llama_prefix_disk import PrefixDisk, default_prefix_dir
from memspy.pipelines.runtime.llama_warm import PLACEHOLDER, prompt_messages, warm_prefixes

__all__: list[str] = []

SYSTEM = " ".join(f"instruction{i}" for i in range(80))  # a signature's fixed text, longer than the minimum saved


class WordLlama:
    """A stand-in Llama: one token per word (ids from a vocabulary shared between instances), the last prompt
    and completion kept as its KV cache."""

    def __init__(self, vocab: dict[str, int]) -> None:
        self.vocab, self.input_ids, self.n_tokens, self._requires_eval = vocab, [], 0, True

    def tokenize(self, text: bytes, add_bos: bool = False, special: bool = False) -> list[int]:
        return [self.vocab.setdefault(w, len(self.vocab)) for w in text.decode().split()]

    def reset(self) -> None:
        self.n_tokens = 0

    def create_chat_completion(self, messages: list[dict[str, str]], **kwargs: Any) -> dict[str, Any]:
        prompt = [t for m in messages for t in self.tokenize(f"<{m['role']}> {m['content']}".encode())]
        self.input_ids = prompt + self.tokenize(b"ok")
        self.n_tokens, self._requires_eval = len(self.input_ids), False
        choice = {"message": {"content": "ok"}, "finish_reason": "stop"}
        return {"choices": [choice], "usage": {"prompt_tokens": len(prompt), "completion_tokens": 1}}


def _snapshot(llm: WordLlama) -> PrefixState:
    return PrefixState(tuple(llm.input_ids[: llm.n_tokens]), b"kv" * llm.n_tokens)


def _restore(llm: WordLlama, state: PrefixState) -> None:
    if not state.data.startswith(b"kv"):
        raise RuntimeError("refused")
    llm.input_ids, llm.n_tokens, llm._requires_eval = list(state.tokens), len(state.tokens), True


def _engine(vocab: dict[str, int], folder: Path) -> LlamaEngine:
    states = PrefixStates(2, snapshot=_snapshot, restore=_restore, disk=PrefixDisk(folder),
                          truncate=lambda llm, n: setattr(llm, "n_tokens", n))  # fmt: skip
    return LlamaEngine(llama=WordLlama(vocab), prefix_states=states)


def _ask(engine: LlamaEngine, text: str) -> Any:
    return engine.complete(Request(model="local/x", system=SYSTEM, messages=(Message.user(text),)))


def test_shared_prefix_goes_to_disk_and_warms_the_next_engine(tmp_path: Path) -> None:
    vocab: dict[str, int] = {}
    first = _engine(vocab, tmp_path)
    _ask(first, "user: my secret is tangerine")
    assert not list(tmp_path.iterdir())  # one call shows no shared prefix yet
    _ask(first, "user: my dog is called Rex")
    (saved,) = tmp_path.iterdir()
    state = PrefixDisk(tmp_path).load(saved.stem)
    assert state is not None and state.data == b"kv" * len(state.tokens)
    words = {w for w, i in vocab.items() if i in state.tokens}
    assert "instruction0" in words and not words & {"user:", "my", "secret", "tangerine", "dog", "Rex"}
    second = _engine(vocab, tmp_path)  # a new process: its first call starts from the saved prefix
    reply = _ask(second, "user: I like tea")
    assert second.last_stats is not None and second.last_stats.restored
    assert reply.usage.cache_read_tokens == len(state.tokens) >= 64
    _ask(second, "user: I like coffee")
    assert len(list(tmp_path.iterdir())) == 1  # a family loaded from disk is not written again


def test_unreadable_or_refused_files_are_dropped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    disk = PrefixDisk(tmp_path / "prefixes")
    assert disk.load("nope") is None
    disk.save("fam", PrefixState((1, 2, 3), b"xx"))  # data the stand-in refuses
    assert disk.load("fam") == PrefixState((1, 2, 3), b"xx")
    (tmp_path / "prefixes" / "junk.kv").write_bytes(b"not a state")
    assert disk.load("junk") is None
    states = PrefixStates(2, snapshot=_snapshot, restore=_restore, disk=disk)
    assert not states.switch(WordLlama({}), "fam") and disk.load("fam") is None  # refused: deleted
    monkeypatch.setenv("MEMSPY_LM_PREFIX_CACHE", "off")
    assert default_prefix_dir("local/m") is None
    monkeypatch.setenv("MEMSPY_LM_PREFIX_CACHE", str(tmp_path / "here"))
    assert default_prefix_dir("local/m") == tmp_path / "here"
    monkeypatch.delenv("MEMSPY_LM_PREFIX_CACHE")
    monkeypatch.setenv("MEMSPY_HOME", str(tmp_path))
    path = default_prefix_dir("local/qwen-q4_k_m-cc324af0")
    assert path is not None and path.parent == tmp_path / "prefix-cache" and "/" not in path.name
    engine = LlamaEngine(llama=WordLlama({}))  # a model passed in: no disk unless asked
    assert engine.prefix_dir is None and engine.dump_state()["prefix_dir"] is True
    assert LlamaEngine(llama=WordLlama({}), prefix_dir=tmp_path / "p").prefix_dir == tmp_path / "p"


def test_warm_saves_a_prompts_fixed_part_so_a_new_engines_first_call_is_restored(tmp_path: Path) -> None:
    vocab: dict[str, int] = {}
    warmer = _engine(vocab, tmp_path)
    placeholder = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "user: ... placeholder"}]
    assert warmer.warm(placeholder)
    (saved,) = tmp_path.iterdir()
    state = PrefixDisk(tmp_path).load(saved.stem)
    assert state is not None and not {w for w, i in vocab.items() if i in state.tokens} & {"...", "placeholder"}
    assert not warmer.warm(placeholder)  # already on disk: nothing evaluated or written again
    assert not _engine(vocab, tmp_path).warm(placeholder)  # nor by a new process
    fresh = _engine(vocab, tmp_path)
    reply = _ask(fresh, "user: I like tea")  # the first call of the family in this process
    assert fresh.last_stats is not None and fresh.last_stats.restored
    assert reply.usage.cache_read_tokens == len(state.tokens) >= 64


def test_warm_needs_a_folder_and_the_prefix_path() -> None:
    vocab: dict[str, int] = {}
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "user: ..."}]
    assert not LlamaEngine(llama=WordLlama(vocab)).warm(messages)  # a stand-in model gets no folder by default
    states = PrefixStates(2, snapshot=_snapshot, restore=_restore, disk=None)
    assert not LlamaEngine(llama=WordLlama(vocab), prefix_states=states, reset_every_call=True).warm(messages)


class Note(dspy.Signature):
    """Write down the one fact in the conversation worth keeping about the user, as a standalone sentence that
    names the user, keeps dates and places, and leaves out greetings, small talk and anything the assistant said;
    write nothing when the conversation holds no such fact."""

    conversation: str = dspy.InputField(desc="the turns, oldest first")
    fact: str = dspy.OutputField(desc="one sentence, or empty")


class TwoNotes(dspy.Module):
    def __init__(self) -> None:
        super().__init__()
        self.plain = dspy.Predict(Note)
        self.shown = dspy.Predict(Note)
        self.shown.demos = [dspy.Example(conversation="user: I moved to Porto", fact="The user lives in Porto.")]
        self.again = dspy.Predict(Note)  # the same prompt as `plain`: warmed once


def test_warm_prefixes_writes_one_file_per_distinct_prompt(tmp_path: Path) -> None:
    engine = _engine({}, tmp_path)
    lm = dspy.LM("local/x", engine=engine, cache=False)
    with dspy.context(adapter=dspy.JSONAdapter()):
        assert prompt_messages(TwoNotes().plain)[-1]["content"].count(PLACEHOLDER) == 1
        assert warm_prefixes(lm, [TwoNotes()]) == 2  # plain and shown; `again` shares plain's prompt
        assert len(list(tmp_path.iterdir())) == 2
        assert warm_prefixes(lm, [TwoNotes()]) == 0
    assert warm_prefixes(dspy.LM("openai/gpt-4o-mini"), [TwoNotes()]) == 0  # no local engine: nothing to warm
