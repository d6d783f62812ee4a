"""The offline default embedders."""

from __future__ import annotations

import math

import pytest

from memspy.stores import Bm25Embedder, CallableEmbedder, MiniLMEmbedder, as_embedder


def _cos(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_minilm_is_offline_normalized_and_semantic(embedder: MiniLMEmbedder) -> None:
    assert embedder.dim == 384  # known without a call
    a, b, c = embedder.embed_documents(
        ["The user prefers dark mode", "They like a dark color theme", "Bake the bread for forty minutes"]
    )
    assert len(a) == 384
    assert math.isclose(math.sqrt(sum(x * x for x in a)), 1.0, rel_tol=1e-3)
    assert _cos(a, b) > _cos(a, c) + 0.2
    assert embedder.embed_documents([]) == []


def test_bm25_query_and_document_share_terms() -> None:
    bm25 = Bm25Embedder()
    doc = bm25.embed_documents(["Running shoes for marathon runners"])[0]
    query = bm25.embed_query("marathon")
    assert set(query.indices) <= set(doc.indices)
    assert not set(bm25.embed_query("photosynthesis").indices) & set(doc.indices)


def test_as_embedder_wraps_callables_and_checks_output() -> None:
    emb = as_embedder(lambda texts: [[1.0, 0.0] for _ in texts], dim=2)
    assert isinstance(emb, CallableEmbedder) and emb.embed_query("x") == [1.0, 0.0]
    bad = as_embedder(lambda texts: [[1.0] for _ in texts], dim=2)
    with pytest.raises(ValueError, match="1-dim"):
        bad.embed_query("x")
    with pytest.raises(ValueError, match="dim="):
        as_embedder(lambda texts: texts)
    with pytest.raises(TypeError):
        as_embedder(42)
