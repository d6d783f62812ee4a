"""Greedy decoding under a grammar: the best token is checked first, the whole vocabulary only when it is
rejected, and only calls where that gives the same tokens use it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from memspy.pipelines.runtime import llama_sampling

__all__: list[str] = []


def test_greedy_grammar_sampling_checks_the_best_token_first() -> None:
    logits = np.array([0.1, 3.0, 2.5, 2.9], dtype=np.float32)
    masked_calls: list[int] = []

    def grammar(allowed: set[int]) -> tuple[Any, Any]:
        def mask_all(x: np.ndarray) -> np.ndarray:
            masked_calls.append(1)
            return np.where(np.isin(np.arange(len(x)), list(allowed)), x, -np.inf)

        return (lambda token, logit: token in allowed), mask_all

    assert llama_sampling.choose_greedy(logits, *grammar({1, 2})) == (1, False) and not masked_calls
    assert llama_sampling.choose_greedy(logits, *grammar({0, 2})) == (2, True) and len(masked_calls) == 1
    for allowed in ({0}, {0, 3}, {2, 3}, {0, 1, 2, 3}):  # always the constrained argmax
        best = max(allowed, key=lambda t: logits[t])
        assert llama_sampling.choose_greedy(logits, *grammar(allowed))[0] == best


def test_install_routes_only_calls_that_give_the_same_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    class Model:
        def __init__(self) -> None:
            self.seen: list[dict[str, Any]] = []

        def _init_sampler(self, **options: Any) -> str:
            self.seen.append(options)
            return "chain"

    monkeypatch.setattr(llama_sampling, "GreedyGrammarSampler", lambda llm, grammar: f"greedy:{grammar}")
    model = Model()
    llama_sampling.install(model)
    assert model._init_sampler(temp=0.0, grammar="g", repeat_penalty=1.0) == "greedy:g"
    assert model._init_sampler(temp=0.0, grammar=None) == "chain"  # nothing to constrain
    assert model._init_sampler(temp=0.7, grammar="g") == "chain"  # sampling, not greedy
    assert model._init_sampler(temp=0.0, grammar="g", repeat_penalty=1.1) == "chain"  # penalties change logits
    assert model._init_sampler(temp=0.0, grammar="g", logits_processor=[print]) == "chain"
    assert model._init_sampler(temp=0.0, grammar="g", frequency_penalty=0.5) == "chain"
    assert model._init_sampler(temp=0.0, grammar="g", mirostat_mode=2) == "chain"
    assert len(model.seen) == 6
    assert model.seen[0] == {"temp": 0.0, "grammar": None}  # the original chain gets the options unchanged


def _first_loop(tokens: list[int], **options: Any) -> int | None:
    guard = llama_sampling.RepeatGuard(**options)
    return next((i for i, t in enumerate(tokens) if guard.push(t)), None)


def test_repeat_guard_ends_a_stream_that_repeats_a_stretch() -> None:
    phrase = list(range(100, 112))  # 12 tokens, written again and again
    stream = [1, 2, 3] + phrase * 10
    at = _first_loop(stream)
    # 3 + 12 tokens before the first copy; the loop shows once 48 tokens (4 copies) repeat the one before them
    assert at == 3 + 12 + 48 - 1
    assert _first_loop([7] * 60) == 48  # one token repeated: 48 repeats after the first
    long_phrase = list(range(500, 560))  # 60 tokens: three more copies (180 tokens) make a loop, not 48
    assert _first_loop(long_phrase * 5) == 60 + 180 - 1


def test_repeat_guard_leaves_answers_that_only_echo_a_little() -> None:
    fact = list(range(10, 30))
    # two facts sharing a long opening, a fact said twice, ordinary JSON punctuation: never a loop
    answer = [1] + fact + [2] + fact[:15] + [99, 98] + [2] + fact + [2] + fact + [3]
    assert _first_loop(answer) is None
    assert _first_loop(list(range(2000))) is None
    assert _first_loop([5, 6] * 23) is None  # 44 repeated tokens: under min_tokens
    assert _first_loop(list(range(70, 140)) * 3, max_period=64) is None  # a 70-token period is longer than looked for
