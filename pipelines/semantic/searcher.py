"""The memory searcher (LangMem's ``create_memory_searcher``): queries written from a conversation, then ranked recall.

One LM call (signature ``GenerateSearchQueries``, predictor ``generate``) reads the conversation and writes
distinct queries, of which the first ``max_queries`` are used; each runs memspy's ranked recall in the
searcher's namespace; a memory found by several queries keeps its best score; the best ``limit`` come back,
best first.
"""

from __future__ import annotations

import asyncio
from typing import Any

import dspy

from memspy.pipelines.records.context import as_store, resolve_store
from memspy.pipelines.records.namespaces import NamespaceTemplate
from memspy.pipelines.records.recall import RankedMemory, RankingWeights, search_memories
from memspy.pipelines.runtime.messages import normalize_messages, render_transcript
from memspy.pipelines.runtime.steps import predictor, run_step
from memspy.pipelines.runtime.usage import Usage, UsageMeter
from memspy.pipelines.semantic.store_manager import default_store
from memspy.signatures.recall import GenerateSearchQueries
from memspy.stores import Namespace, SearchItem

__all__ = ["MemorySearcher", "create_memory_searcher"]


def _clean(queries: list[Any], cap: int) -> tuple[list[str], list[str]]:
    out = list(dict.fromkeys(q.strip() for q in queries if isinstance(q, str) and q.strip()))
    problems = [] if out else ["write at least one non-empty query"]
    return out[:cap], problems


class MemorySearcher(dspy.Module):
    """Finds the stored memories a conversation calls for (see the module docstring).

    Args:
        lm: A ``dspy.LM``, a model string, or None for the configured LM.
        namespace: Where to search; ``{name}`` parts are filled from ``config`` or the LangGraph run.
        store: A memspy or LangGraph store (default: the LangGraph run's, else ``default_store()``).
        prompt: Replaces the query-writing instructions.
        max_queries: The most queries one conversation gets.
        limit: How many memories to return.
        weights: Ranking weights of the recall blend.
        max_retries: Extra attempts when the LM writes no usable query.

    Example:
        >>> searcher = create_memory_searcher("local", namespace=("memories", "{user_id}"))  # doctest: +SKIP
        >>> searcher.invoke({"messages": msgs}, config={"configurable": {"user_id": "u1"}})
    """

    def __init__(
        self,
        lm: Any = None,
        *,
        namespace: Namespace | str = ("memories", "{user_id}"),
        store: Any = None,
        prompt: str | None = None,
        max_queries: int = 3,
        limit: int = 5,
        weights: RankingWeights | None = None,
        max_retries: int = 1,
    ) -> None:
        super().__init__()
        if max_queries < 1 or limit < 1:
            raise ValueError(f"max_queries and limit must be >= 1, got {max_queries} and {limit}")
        signature = GenerateSearchQueries.with_instructions(prompt) if prompt else GenerateSearchQueries
        self.generate = predictor(signature, lm)
        self.namespace = NamespaceTemplate(namespace)
        self.store = as_store(store)
        self.max_queries, self.limit, self.max_retries = max_queries, limit, max_retries
        self.weights = weights or RankingWeights()
        self.usage = UsageMeter()

    def save(self, path: Any, save_program: bool = False, modules_to_serialize: Any = None) -> None:
        """DSPy's ``save``; with ``save_program=True`` the store (open files, locks) is left out of the pickle."""
        store, self.store = self.store, (None if save_program else self.store)
        try:
            super().save(path, save_program=save_program, modules_to_serialize=modules_to_serialize)
        finally:
            self.store = store

    def forward(self, messages: Any, config: dict[str, Any] | None = None) -> dspy.Prediction:
        """Search for one conversation.

        Returns:
            ``Prediction(memories=[RankedMemory], queries=[str], usage=Usage)``.
        """
        msgs = normalize_messages(messages)
        ns = self.namespace.resolve(config)
        usage = Usage()

        def validate(pred: dspy.Prediction) -> tuple[list[str], list[str]]:
            return _clean(list(pred.queries or []), self.max_queries)

        queries = run_step(
            self.generate, "generate", usage, validate, self.max_retries, conversation=render_transcript(msgs)
        )
        store = resolve_store(self.store, default_store)
        best: dict[tuple[Namespace, str], RankedMemory] = {}
        for q in queries:
            for r in search_memories(store, ns, q, limit=self.limit, weights=self.weights, track_access=False):
                at = (r.item.namespace, r.key)
                if at not in best or r.score > best[at].score:
                    best[at] = r
        ranked = sorted(best.values(), key=lambda r: -r.score)[: self.limit]
        self.usage.record(usage)
        return dspy.Prediction(memories=ranked, queries=queries, usage=usage)

    def invoke(self, input: dict[str, Any] | list[Any], config: dict[str, Any] | None = None) -> list[SearchItem]:
        """LangMem's shape: ``invoke({"messages": [...]})`` -> the items found, best first, ``score`` = the blend."""
        messages = input["messages"] if isinstance(input, dict) else input
        found = self(messages=messages, config=config).memories
        return [
            SearchItem(r.item.namespace, r.key, r.value, r.item.created_at, r.item.updated_at, r.score) for r in found
        ]

    async def ainvoke(
        self, input: dict[str, Any] | list[Any], config: dict[str, Any] | None = None
    ) -> list[SearchItem]:
        return await asyncio.to_thread(self.invoke, input, config)


def create_memory_searcher(lm: Any = None, prompt: str | None = None, **kwargs: Any) -> MemorySearcher:
    """Create a memory searcher (LangMem's ``create_memory_searcher(model, prompt, namespace=...)``).

    ``kwargs``: ``namespace``, ``store``, ``max_queries``, ``limit``, ``weights``, ``max_retries`` (see
    :class:`MemorySearcher`).
    """
    return MemorySearcher(lm, prompt=prompt, **kwargs)
