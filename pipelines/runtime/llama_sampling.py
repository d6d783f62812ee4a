"""Greedy decoding under a grammar without checking the whole vocabulary at every token.

llama-cpp-python samples a constrained token by running the grammar over all ~152k candidates, then taking the
best: about a third of the time of each generated token for memspy's JSON schemas. When decoding is greedy, the
best token the grammar allows is the unconstrained best token whenever the grammar allows that one, so
:class:`GreedyGrammarSampler` checks that single token first and runs the grammar over the whole vocabulary only
when it is rejected (llama.cpp's own ``common_sampler`` does the same). The chosen tokens are the same.

:func:`install` puts it into one ``llama_cpp.Llama`` for calls that are greedy, grammar-constrained and have no
penalties, logit processors or mirostat; every other call uses llama-cpp-python's own sampler chain.

A greedy small model sometimes falls into a loop (one fact written as the same list again and again) and would
decode until ``max_tokens``: 1,024 tokens, over a minute on 2 cores, for an answer that is then refused as cut
off. :class:`RepeatGuard` sees the generated tokens turn periodic (a stretch of at most ``max_period`` tokens
repeated over the last ``max(min_tokens, repeats * period)`` tokens) and the sampler ends the answer there, an
end-of-generation token the grammar is never asked to accept; :attr:`GreedyGrammarSampler.looped` tells the engine,
which reports the answer as cut off (``finish_reason="length"``), so the strict adapter retries it as it would
retry one cut off at the cap.
"""

from __future__ import annotations

import ctypes
import math
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["GreedyGrammarSampler", "RepeatGuard", "choose_greedy", "install", "looped"]


def choose_greedy(
    logits: np.ndarray, allows: Callable[[int, float], bool], mask_all: Callable[[np.ndarray], np.ndarray]
) -> tuple[int, bool]:
    """The greedy token under a grammar: the best token if the grammar allows it, else the best allowed one.

    Args:
        logits: The model's logits over the vocabulary.
        allows: Whether the grammar accepts a token (given its id and logit) as the next one.
        mask_all: The logits with every token the grammar rejects set to ``-inf``.

    Returns:
        The token, and whether the whole vocabulary had to be checked.
    """
    best = int(np.argmax(logits))
    if allows(best, float(logits[best])):
        return best, False
    masked = mask_all(logits)
    return int(np.argmax(masked)), True


class RepeatGuard:
    """Whether a stream of tokens has started to repeat itself.

    For every period ``p`` up to ``max_period`` it counts how many tokens in a row equal the token ``p`` before
    them; the stream has looped once that run covers ``max(min_tokens, repeats * p)`` tokens, i.e. the last
    ``p`` tokens have been written ``repeats + 1`` times in a row. Constant work per token.

    Args:
        max_period: The longest repeated stretch looked for, in tokens.
        repeats: How many copies after the first make a loop.
        min_tokens: The fewest repeated tokens that make a loop (so a short legitimate echo never does).
    """

    def __init__(self, max_period: int = 64, repeats: int = 3, min_tokens: int = 48) -> None:
        self.max_period, self.repeats, self.min_tokens = max_period, repeats, min_tokens
        self.tokens: list[int] = []
        self._runs = [0] * (max_period + 1)

    def push(self, token: int) -> bool:
        """Add the next token; whether the stream has now looped."""
        self.tokens.append(token)
        n, looped = len(self.tokens), False
        for p in range(1, min(self.max_period, n - 1) + 1):
            self._runs[p] = self._runs[p] + 1 if self.tokens[n - 1 - p] == token else 0
            looped = looped or self._runs[p] >= max(self.min_tokens, self.repeats * p)
        return looped


class GreedyGrammarSampler:
    """A stand-in for llama-cpp-python's ``LlamaSampler`` (``sample``/``close``): greedy under one grammar.

    Args:
        llm: The ``llama_cpp.Llama``.
        grammar: A ``llama_cpp.LlamaGrammar``.
    """

    def __init__(self, llm: Any, grammar: Any) -> None:
        import llama_cpp
        from llama_cpp._internals import LlamaTokenDataArray

        self._c = llama_cpp
        self.n_vocab = int(llm.n_vocab())
        self._grammar = llama_cpp.llama_sampler_init_grammar(
            llm._model.vocab, grammar._grammar.encode("utf-8"), grammar._root.encode("utf-8")
        )
        if not self._grammar:
            raise ValueError("llama.cpp could not parse the grammar")
        self._one = (llama_cpp.llama_token_data * 1)()
        self._one_array = llama_cpp.llama_token_data_array(data=self._one, size=1, selected=-1, sorted=False)
        self._all = LlamaTokenDataArray(n_vocab=self.n_vocab)
        self.steps = self.full_checks = 0
        self.guard, self.looped = RepeatGuard(), False
        self._end = int(llm.token_eos())

    def _allows(self, token: int, logit: float) -> bool:
        self._one[0] = self._c.llama_token_data(token, logit, 0.0)
        self._one_array.size, self._one_array.selected = 1, -1
        self._c.llama_sampler_apply(self._grammar, ctypes.byref(self._one_array))
        return not math.isinf(self._one[0].logit)

    def _mask_all(self, logits: np.ndarray) -> np.ndarray:
        self._all.copy_logits(logits)
        self._c.llama_sampler_apply(self._grammar, ctypes.byref(self._all.candidates))
        return np.asarray(self._all.candidates_data.logit)

    def sample(self, ctx: Any, idx: int = -1) -> int:
        """Pick the next token from the logits at ``idx`` and advance the grammar past it."""
        pointer = self._c.llama_get_logits_ith(ctx.ctx, idx)
        logits = np.ctypeslib.as_array(pointer, shape=(self.n_vocab,))
        token, full = choose_greedy(logits, self._allows, self._mask_all)
        if self.guard.push(token):
            self.looped = True  # end here; the grammar would refuse an early end, so it is not asked
            return self._end
        self._c.llama_sampler_accept(self._grammar, token)
        self.steps += 1
        self.full_checks += int(full)
        return token

    def close(self) -> None:
        """Free the llama.cpp grammar sampler."""
        if self._grammar:
            self._c.llama_sampler_free(self._grammar)
            self._grammar = None

    def __del__(self) -> None:
        self.close()


_NEUTRAL = {"repeat_penalty": 1.0, "frequency_penalty": 0.0, "presence_penalty": 0.0, "mirostat_mode": 0}


def install(llm: Any) -> None:
    """Make ``llm`` (a ``llama_cpp.Llama``) use :class:`GreedyGrammarSampler` where it gives the same tokens.

    The sampler of the latest call is kept as ``llm.memspy_sampler`` (``None`` when llama-cpp-python's own chain
    ran), so the caller can read whether the answer was ended as a loop (:func:`looped`)."""
    original = llm._init_sampler

    def init_sampler(**options: Any) -> Any:
        greedy = options.get("temp", 0.8) == 0.0 and options.get("logits_processor") is None
        neutral = all(options.get(key, value) == value for key, value in _NEUTRAL.items())
        llm.memspy_sampler = None
        if greedy and neutral and options.get("grammar") is not None:
            llm.memspy_sampler = GreedyGrammarSampler(llm, options["grammar"])
            return llm.memspy_sampler
        return original(**options)

    llm._init_sampler = init_sampler


def looped(llm: Any) -> bool:
    """Whether ``llm``'s latest call was ended by :class:`RepeatGuard` (``False`` for models :func:`install` never
    touched)."""
    return bool(getattr(getattr(llm, "memspy_sampler", None), "looped", False))
