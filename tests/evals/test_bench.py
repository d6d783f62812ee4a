"""Smoke tests of the storage benchmark: tiny sizes, a fake embedder, real stores; no timing assertions."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from memspy.evals._bench_data import NumpyIndex, SyntheticCorpus, make_sentences
from memspy.evals._timing import format_report, percentile
from memspy.evals.bench import main, run_bench
from memspy.stores import CallableEmbedder

DIM = 16


def _fake_vectors(texts: list[str]) -> list[list[float]]:
    out = []
    for t in texts:
        v = np.frombuffer(hashlib.sha256(t.encode()).digest()[:DIM], dtype=np.uint8).astype(np.float64) - 127.5
        out.append((v / np.linalg.norm(v)).tolist())
    return out


def _positive(x: Any) -> bool:
    return isinstance(x, int | float) and math.isfinite(x) and x > 0


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return run_bench(
        [120, 200],
        queries=4,
        batch=64,
        pool_size=40,
        embed_sentences=30,
        embed_queries=4,
        embedder=CallableEmbedder(_fake_vectors, DIM, name="fake"),
        workdir=tmp_path_factory.mktemp("bench"),
        progress=False,
    )


def test_engine_section_counts_and_numbers(result: dict[str, Any]) -> None:
    assert [r["n"] for r in result["engine"]] == [120, 200]
    for r in result["engine"]:
        for name in ("edge", "qdrant_local", "numpy"):
            numbers = r[name]
            assert numbers["count"] == r["n"]
            assert _positive(numbers["fill_s"]) and _positive(numbers["put_items_per_s"])
            assert numbers["search"]["n"] == 4
            assert _positive(numbers["search"]["p95_ms"])
            assert numbers["search"]["p50_ms"] <= numbers["search"]["p95_ms"]
        assert r["qdrant_local"]["capped"] is False
        assert r["edge_hnsw"]["optimize_s"] >= 0 and _positive(r["edge_hnsw"]["search"]["p95_ms"])
        assert len(r["ratios"]) == 6 and all(_positive(x) for x in r["ratios"].values())


def test_embedder_section_uses_the_largest_store(result: dict[str, Any]) -> None:
    emb = result["embedder"]
    assert emb["embedder"] == "fake" and emb["sentences"] == 30 and emb["store_items"] == 200
    for key in ("embed_sentences_per_s", "add_items_per_s", "add_vs_embed", "search_vs_embed_p95"):
        assert _positive(emb[key]), key
    assert emb["query_embed"]["n"] == emb["search_with_embed"]["n"] == 4
    assert isinstance(emb["add_pass"], bool) and isinstance(emb["search_pass"], bool)
    assert emb["cpu_ms_in_100ms_after_embed"] >= 0
    adds = emb["rounds"]["add_s"]
    assert len(emb["rounds"]["embed_s"]) == len(adds["flush"]) == len(adds["wal"]) == 2
    assert emb["add_items_per_s"] == pytest.approx(30 / min(adds["flush"]))
    assert emb["add_wal_items_per_s"] == pytest.approx(30 / min(adds["wal"]))


def test_result_is_json_and_report_has_every_section(result: dict[str, Any]) -> None:
    assert json.loads(json.dumps(result))["config"]["sizes"] == [120, 200]
    assert result["machine"]["cpu_count"] >= 1 and "qdrant-edge-py" in result["machine"]["versions"]
    report = format_report(result)
    for needle in ("1. Engine only", "QdrantStore local", "numpy brute force", "Ratios", "2. With the real embedder"):
        assert needle in report
    assert report.count("PASS") + report.count("MISS") == 3


def test_qdrant_local_can_be_skipped_and_main_writes_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench.json"
    argv = ["--sizes", "100", "--queries", "3", "--pool", "30", "--skip-qdrant-local", "--skip-embedder"]
    assert main([*argv, "--no-progress", "--workdir", str(tmp_path / "work"), "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["embedder"] is None and data["engine"][0]["qdrant_local"] is None
    assert data["engine"][0]["edge"]["count"] == 100
    assert "EdgeStore (exact)" in capsys.readouterr().out


def test_bad_sizes_are_rejected() -> None:
    with pytest.raises(ValueError):
        run_bench([0], embedder=CallableEmbedder(_fake_vectors, DIM))
    with pytest.raises(SystemExit):
        main(["--sizes", "ten"])


def test_synthetic_data_is_deterministic_and_distinct() -> None:
    assert make_sentences(50, seed=3) == make_sentences(50, seed=3)
    assert len(set(make_sentences(500))) == 500
    pool = make_sentences(20)
    vecs = np.asarray(_fake_vectors(pool), dtype=np.float32)
    corpus = SyntheticCorpus(pool, vecs, 60, seed=1, noise=0.1)
    assert len(corpus.texts) == 60 and not set(corpus.texts) & set(pool)
    np.testing.assert_allclose(corpus.vectors([pool[5]])[0], vecs[5])
    again = corpus.vectors(corpus.texts[:3])
    np.testing.assert_allclose(np.linalg.norm(again, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(again, SyntheticCorpus(pool, vecs, 60, seed=1, noise=0.1).vectors(corpus.texts[:3]))


def test_numpy_index_returns_best_matches_in_the_namespace() -> None:
    rng = np.random.default_rng(0)
    vecs = rng.standard_normal((100, 8)).astype(np.float32)
    index = NumpyIndex(100, 8)
    index.add(vecs[:50], np.arange(50) % 5)
    index.add(vecs[50:], np.arange(50, 100) % 5)
    q = vecs[17] / np.linalg.norm(vecs[17])
    top = index.search(q, 2, k=3)
    assert top[0] == 17 and all(i % 5 == 2 for i in top)
    scores = index.m[top] @ q
    assert list(scores) == sorted(scores, reverse=True)
    assert len(index.search(q, 99)) == 0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
