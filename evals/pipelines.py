"""Memory pipelines under test, the raw-turn baselines, and loading a user pipeline from an import path.

The protocol: the harness builds one pipeline per conversation with ``factory(ctx: PipelineContext)``
(or ``factory()``), calls ``ingest(conversation)`` once, then ``retrieve(question, k)`` per question,
and ``close()`` if it exists. ``retrieve`` returns up to ``k`` items, best first; each item is a
:class:`Hit`, a dia id string, a list of dia ids, or a dict / store item whose value has ``dia_ids`` or
``provenance.message_ids`` (and optionally ``text``, shown to the answerer; without it the source turns are).

Optional attributes: ``persistent = True`` (state lives in ``ctx.workdir``; a resumed run reopens it instead
of ingesting again), ``full_context = True`` (the answerer gets every hit, subject to the context budget),
``recall = False`` (no R@k), ``memory_count() -> int``.

Built in: ``raw`` (every turn in an EdgeStore, hybrid search), ``semantic`` (the store manager fed session by
session), ``full`` (the whole conversation, a QA baseline) and the LLM-free baselines ``dense``, ``bm25``,
``rrf`` (exact search over raw turns in numpy, independent of the store). A user pipeline is ``module:attr``
naming a factory (class or function) or a pipeline object.
"""

from __future__ import annotations

import importlib
import inspect
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from memspy.evals.locomo import Conversation
from memspy.pipelines.records import ACTIVE, search_memories
from memspy.pipelines.semantic import create_memory_store_manager
from memspy.stores import Bm25Embedder, EdgeStore, Embedder, PutOp

__all__ = [
    "BASELINES",
    "BUILTIN_PIPELINES",
    "BaselinePipeline",
    "FullContextPipeline",
    "Hit",
    "MemoryPipeline",
    "PipelineContext",
    "RawTurnPipeline",
    "SemanticPipeline",
    "as_hit",
    "load_pipeline",
]

_NS = ("eval", "memories")
BASELINES = ("dense", "bm25", "rrf")


@dataclass(frozen=True)
class Hit:
    """One retrieved item: the ids of its source turns and the text shown to the answerer."""

    dia_ids: tuple[str, ...]
    text: str = ""


@dataclass
class PipelineContext:
    """What a pipeline factory gets: its private folder, the conversation, the embedder and options."""

    workdir: Path
    conversation: Conversation
    embedder: Embedder
    seed: int = 0
    options: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class MemoryPipeline(Protocol):
    """The pipeline protocol (see the module docstring)."""

    def ingest(self, conversation: Conversation) -> None: ...
    def retrieve(self, question: str, k: int) -> list[Any]: ...


def as_hit(obj: Any) -> Hit:
    """Normalize one retrieved item to a :class:`Hit` (see the module docstring for the accepted shapes)."""
    if isinstance(obj, Hit):
        return obj
    if isinstance(obj, str):
        return Hit((obj,))
    if isinstance(obj, list | tuple):
        return Hit(tuple(str(i) for i in obj))
    value = obj if isinstance(obj, dict) else getattr(obj, "value", None)
    if not isinstance(value, dict):
        raise TypeError(f"cannot read source turns from a retrieved {type(obj).__name__}")
    ids = value.get("dia_ids") or (value.get("provenance") or {}).get("message_ids") or []
    text = value.get("text") or value.get("content") or ""
    return Hit(tuple(str(i) for i in ids), text if isinstance(text, str) else str(text))


def _turn_texts(ctx: PipelineContext) -> list[str]:
    with_date = bool(ctx.options.get("with_date", True))
    return [t.render(with_date=with_date) for t in ctx.conversation.turns]


class BaselinePipeline:
    """Exact dense (cosine), BM25 (Qdrant's vectors, IDF over the conversation) or RRF search over raw turns."""

    def __init__(self, ctx: PipelineContext, mode: str = "rrf", rrf_k: int = 60) -> None:
        if mode not in BASELINES:
            raise ValueError(f"mode must be one of {BASELINES}, got {mode!r}")
        self.ctx, self.mode, self.rrf_k = ctx, mode, rrf_k
        self.bm25 = Bm25Embedder()

    def ingest(self, conversation: Conversation) -> None:
        texts = _turn_texts(self.ctx)
        self.hits = [Hit((t.dia_id,), text) for t, text in zip(conversation.turns, texts, strict=True)]
        if self.mode != "bm25":
            self.matrix = np.asarray(self.ctx.embedder.embed_documents(texts), dtype=np.float32)
            self.matrix /= np.maximum(np.linalg.norm(self.matrix, axis=1, keepdims=True), 1e-12)
        if self.mode != "dense":
            self.docs = [dict(zip(v.indices, v.values, strict=True)) for v in self.bm25.embed_documents(texts)]
            df = Counter(i for d in self.docs for i in d)
            n = len(self.docs)
            self.idf = {i: math.log((n - c + 0.5) / (c + 0.5) + 1) for i, c in df.items()}

    def _dense(self, question: str) -> list[int]:
        q = np.asarray(self.ctx.embedder.embed_query(question), dtype=np.float32)
        return [int(i) for i in np.argsort(-(self.matrix @ q), kind="stable")]

    def _bm25(self, question: str) -> list[int]:
        q = self.bm25.embed_query(question)
        terms = [(i, w * self.idf[i]) for i, w in zip(q.indices, q.values, strict=True) if i in self.idf]
        scores = [sum(w * d.get(i, 0.0) for i, w in terms) for d in self.docs]
        return sorted((i for i, s in enumerate(scores) if s > 0), key=lambda i: (-scores[i], i))

    def retrieve(self, question: str, k: int) -> list[Hit]:
        if self.mode == "dense":
            order = self._dense(question)
        elif self.mode == "bm25":
            order = self._bm25(question)
        else:
            fused: dict[int, float] = {}
            for ranking in (self._dense(question), self._bm25(question)):
                for rank, i in enumerate(ranking, start=1):
                    fused[i] = fused.get(i, 0.0) + 1.0 / (self.rrf_k + rank)
            order = sorted(fused, key=lambda i: (-fused[i], i))
        return [self.hits[i] for i in order[:k]]

    def memory_count(self) -> int:
        return len(self.hits)


class RawTurnPipeline:
    """Every turn stored as one item (``"[date] speaker: text"``) in an EdgeStore; hybrid RRF search."""

    persistent = True

    def __init__(self, ctx: PipelineContext) -> None:
        self.ctx = ctx
        self.store = EdgeStore(ctx.workdir / "store", embedder=ctx.embedder)

    def ingest(self, conversation: Conversation) -> None:
        ops = [
            PutOp(_NS, t.dia_id, {"text": text, "dia_ids": [t.dia_id], "date": t.date}, ["text"])
            for t, text in zip(conversation.turns, _turn_texts(self.ctx), strict=True)
        ]
        for start in range(0, len(ops), 256):
            self.store.put_many(ops[start : start + 256])

    def retrieve(self, question: str, k: int) -> list[Any]:
        return list(self.store.search(_NS, query=question, limit=k))

    def memory_count(self) -> int:
        return self.store.count()

    def close(self) -> None:
        self.store.close()


class SemanticPipeline:
    """The store manager (one LM call per session, session date included); memories dated on retrieval."""

    persistent = True

    def __init__(self, ctx: PipelineContext) -> None:
        self.ctx = ctx
        self.store = EdgeStore(ctx.workdir / "store", embedder=ctx.embedder)
        self.manager = create_memory_store_manager(
            ctx.options.get("lm"), namespace=_NS, store=self.store, **ctx.options.get("semantic", {})
        )

    def ingest(self, conversation: Conversation) -> None:
        for s in conversation.sessions:
            msgs: list[dict[str, Any]] = [
                {"role": "system", "content": f"[session date: {s.date}]", "id": f"S{s.index}"}
            ]
            for t in s.turns:
                text = t.text + (f" [shares a photo: {t.caption}]" if t.caption else "")
                msgs.append({"role": "user", "name": t.speaker, "content": text, "id": t.dia_id})
            self.manager.invoke({"messages": msgs}, config={"configurable": {}})

    def retrieve(self, question: str, k: int) -> list[Hit]:
        turns = self.ctx.conversation.turn_by_id
        out = []
        for r in search_memories(self.store, _NS, question, limit=k, track_access=False, min_score=0.0):
            ids = tuple(i for i in r.value.get("provenance", {}).get("message_ids", []) if i in turns)
            date = turns[ids[0]].date if ids else ""
            out.append(Hit(ids, f"[{date}] {r.value.get('text', '')}" if date else str(r.value.get("text", ""))))
        return out

    def memory_count(self) -> int:
        return len(self.store.search(_NS, filter=ACTIVE, limit=100_000))

    def close(self) -> None:
        self.store.close()


class FullContextPipeline:
    """Every turn, in order: the QA baseline "the whole conversation in the prompt" (no R@k)."""

    full_context = True
    recall = False

    def __init__(self, ctx: PipelineContext) -> None:
        self.ctx = ctx

    def ingest(self, conversation: Conversation) -> None:
        self.hits = [Hit((t.dia_id,), t.render()) for t in conversation.turns]

    def retrieve(self, question: str, k: int) -> list[Hit]:
        return list(self.hits)

    def memory_count(self) -> int:
        return len(self.hits)


Factory = Callable[[PipelineContext], Any]
BUILTIN_PIPELINES: dict[str, Factory] = {
    "raw": RawTurnPipeline,
    "semantic": SemanticPipeline,
    "full": FullContextPipeline,
    **{m: (lambda ctx, m=m: BaselinePipeline(ctx, m)) for m in BASELINES},  # type: ignore[misc]
}


def _as_factory(obj: Any) -> Factory:
    if hasattr(obj, "ingest") and hasattr(obj, "retrieve") and not inspect.isclass(obj):
        return lambda ctx: obj
    if not callable(obj):
        raise TypeError(f"{obj!r} is neither a pipeline nor a factory of pipelines")
    try:
        takes_ctx = bool(inspect.signature(obj).parameters)
    except (TypeError, ValueError):
        takes_ctx = True
    return (lambda ctx: obj(ctx)) if takes_ctx else (lambda ctx: obj())


def load_pipeline(spec: str) -> tuple[str, Factory]:
    """Resolve a built-in name or ``module:attr`` to ``(name, factory)``.

    Raises:
        ValueError: an unknown name or a malformed import path.
    """
    if spec in BUILTIN_PIPELINES:
        return spec, BUILTIN_PIPELINES[spec]
    if ":" not in spec:
        raise ValueError(f"unknown pipeline {spec!r}: use one of {sorted(BUILTIN_PIPELINES)} or module:attr")
    module_name, _, attr = spec.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return str(getattr(obj, "name", None) or attr.split(".")[-1]), _as_factory(obj)
