"""Greedy decoding under a grammar without checking the whole vocabulary at every token.

llama-cpp-python samples a constrained token by running the grammar over all ~152k candidates, then taking the
best: about a third of the time of each generated token for memspy's JSON schemas. When decoding is greedy, the
best token the grammar allows is the unconstrained best token whenever the grammar allows that one, so
:class:`GreedyGrammarSampler` checks that single token first and runs the grammar over the whole vocabulary only
when it is rejected (llama.cpp's own ``common_sampler`` does the same). The chosen tokens are the same.

:func:`install` puts it into one ``llama_cpp.Llama`` for calls that are greedy, grammar-constrained and have no
penalties, logit processors or mirostat; every other call uses llama-cpp-python's own sampler chain.
"""

from __future__ import annotations

import ctypes
import math
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["GreedyGrammarSampler", "choose_greedy", "install"]


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
    """Make ``llm`` (a ``llama_cpp.Llama``) use :class:`GreedyGrammarSampler` where it gives the same tokens."""
    original = llm._init_sampler

    def init_sampler(**options: Any) -> Any:
        greedy = options.get("temp", 0.8) == 0.0 and options.get("logits_processor") is None
        neutral = all(options.get(key, value) == value for key, value in _NEUTRAL.items())
        if greedy and neutral and options.get("grammar") is not None:
            return GreedyGrammarSampler(llm, options["grammar"])
        return original(**options)

    llm._init_sampler = init_sampler
