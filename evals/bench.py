"""Storage benchmark: EdgeStore vs qdrant-client local mode vs brute-force numpy, and the embedder targets.

Section 1 fills stores with synthetic memories whose vectors cost no embedding time (real embeddings of a
pool of sentences plus seeded noise, served by a ``CallableEmbedder`` lookup, so the stores keep their
normal ``put_many`` path, BM25 included). Section 2 uses the real ``MiniLMEmbedder`` and checks the
evaluation targets. Every ratio compares numbers measured in the same run.

Example:
    $ python -m memspy.evals.bench --sizes 2000 --queries 50 --skip-qdrant-local
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from memspy.evals._bench_data import NumpyIndex, SyntheticCorpus, item_texts, make_sentences
from memspy.evals._timing import (
    Latency,
    Stopwatch,
    format_report,
    machine_facts,
    measure_interleaved,
    measure_latency,
    ratio,
)
from memspy.stores import BaseStore, CallableEmbedder, EdgeStore, Embedder, MiniLMEmbedder, PutOp, QdrantStore

__all__ = ["ADD_TARGET", "SEARCH_TARGET", "main", "run_bench"]

ADD_TARGET = 0.9  # batched add with embedding >= 0.9 x embedding-only throughput
SEARCH_TARGET = 1.5  # p95 of search with query embedding <= 1.5 x p95 of query embedding alone
USERS = 50  # items go to ("memories", f"u{i % USERS}")
QUERY_USER = 7  # searches are filtered to ("memories", "u7")
QDRANT_LOCAL_CAP_FROM = 50_000  # from this size on, qdrant-client local mode gets at most qdrant_local_queries
_KINDS = ("preference", "fact", "event")


def _op(i: int, text: str) -> PutOp:
    return PutOp(("memories", f"u{i % USERS}"), f"m{i}", {"content": text, "kind": _KINDS[i % len(_KINDS)]})


def _fill(store: BaseStore, texts: Sequence[str], batch: int, label: str, progress: bool) -> float:
    with tqdm(total=len(texts), desc=label, unit="item", disable=not progress, leave=False) as bar, Stopwatch() as sw:
        for start in range(0, len(texts), batch):
            chunk = range(start, min(len(texts), start + batch))
            store.put_many([_op(i, texts[i]) for i in chunk])
            bar.update(len(chunk))
    return sw.seconds


def _search(store: BaseStore, queries: Sequence[str]) -> Latency:
    ns = ("memories", f"u{QUERY_USER}")
    return measure_latency(lambda q: store.search(ns, query=q, limit=10), queries)


def _numbers(n: int, fill_s: float, count: int, search: Latency, **extra: Any) -> dict[str, Any]:
    return {"fill_s": fill_s, "put_items_per_s": n / fill_s, "count": count, "search": search.as_dict(), **extra}


def _engine_size(n: int, pool: list[str], pool_vecs: np.ndarray, cfg: dict[str, Any], path: Path) -> dict[str, Any]:
    corpus = SyntheticCorpus(pool, pool_vecs, n, cfg["seed"] + n, cfg["noise"])
    emb = CallableEmbedder(corpus, corpus.dim, name="pool-lookup")
    qrng = random.Random(cfg["seed"] + 1)
    queries = [pool[qrng.randrange(len(pool))] for _ in range(cfg["queries"])]
    res: dict[str, Any] = {"n": n, "qdrant_local": None}
    shutil.rmtree(path, ignore_errors=True)
    store = EdgeStore(path, embedder=emb)
    try:
        fill = _fill(store, corpus.texts, cfg["batch"], f"EdgeStore {n:,}", cfg["progress"])
        res["edge"] = _numbers(n, fill, store.count(), _search(store, queries))
        if n == max(
            cfg["sizes"]
        ):  # section 2 also measures the store as a user has it: EdgeStore never optimizes itself
            shutil.copytree(path, path.parent / f"{path.name}-default", dirs_exist_ok=True)
        with Stopwatch() as sw:
            store.optimize()
        res["edge_hnsw"] = {"optimize_s": sw.seconds, "search": _search(store, queries).as_dict()}
    finally:
        store.close()
    if not cfg["skip_qdrant_local"]:
        nq = len(queries) if n < QDRANT_LOCAL_CAP_FROM else min(len(queries), cfg["qdrant_local_queries"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "payload indexes have no effect", "not recommended above 20k points"
            qstore = QdrantStore(location=":memory:", embedder=emb)
            try:
                fill = _fill(qstore, corpus.texts, cfg["batch"], f"QdrantStore local {n:,}", cfg["progress"])
                lat = _search(qstore, queries[:nq])
                res["qdrant_local"] = _numbers(n, fill, qstore.count(), lat, capped=nq < len(queries))
            finally:
                qstore.close()
    index = NumpyIndex(n, corpus.dim)
    with Stopwatch() as sw:
        for start in range(0, n, cfg["batch"]):
            end = min(n, start + cfg["batch"])
            index.add(corpus.vectors(corpus.texts[start:end]), np.arange(start, end) % USERS)
    lat = measure_latency(lambda q: index.search(corpus.vectors([q])[0], QUERY_USER), queries)
    res["numpy"] = _numbers(n, sw.seconds, index.size, lat)
    res["ratios"] = {}
    for other in ("qdrant_local", "numpy"):  # > 1 means EdgeStore is better
        o = res[other]
        res["ratios"][f"edge_vs_{other}_put_x"] = ratio(res["edge"]["put_items_per_s"], o and o["put_items_per_s"])
        for edge in ("edge", "edge_hnsw"):
            p95 = res[edge]["search"]["p95_ms"]
            res["ratios"][f"{edge}_vs_{other}_search_p95_x"] = ratio(o and o["search"]["p95_ms"], p95)
    return res


def _cpu_after(embedder: Embedder, text: str, gap: float = 0.1, repeats: int = 5) -> float:
    """Milliseconds of CPU the process burns while sleeping ``gap`` s right after an ``embed_query`` (thread spin)."""
    burnt = []
    for _ in range(repeats):
        embedder.embed_query(text)
        start = time.process_time()
        time.sleep(gap)
        burnt.append(time.process_time() - start)
    return 1000 * sum(burnt) / repeats


def _embedder_section(
    embedder: Embedder, pool: list[str], cfg: dict[str, Any], work: Path, load_s: float
) -> dict[str, Any]:
    rng = random.Random(cfg["seed"] + 2)
    texts = item_texts(pool, [rng.randrange(len(pool)) for _ in range(cfg["embed_sentences"])], cfg["seed"] + 3)
    queries = [pool[rng.randrange(len(pool))] for _ in range(cfg["embed_queries"])]
    embed_s: list[float] = []
    add_s: dict[str, list[float]] = {"flush": [], "wal": []}
    for r in range(cfg["embed_rounds"]):  # alternate (a) and (b), keep the best of each: other load hits both alike
        with Stopwatch() as sw:
            embedder.embed_documents(texts)
        embed_s.append(sw.seconds)
        for mode, times in add_s.items():
            path = work / f"edge-embed-{mode}-{r}"
            shutil.rmtree(path, ignore_errors=True)
            store = EdgeStore(path, embedder=embedder, durability=mode)  # type: ignore[arg-type]
            try:
                label = f"EdgeStore({mode}) + embedder, round {r + 1}"
                times.append(_fill(store, texts, cfg["batch"], label, cfg["progress"]))
            finally:
                store.close()
                shutil.rmtree(path, ignore_errors=True)
    embed_rate, add_rate = len(texts) / min(embed_s), len(texts) / min(add_s["flush"])
    add_wal_rate = len(texts) / min(add_s["wal"])
    ns = ("memories", f"u{QUERY_USER}")
    largest = work / f"edge-{max(cfg['sizes'])}"
    default = EdgeStore(largest.parent / f"{largest.name}-default", embedder=embedder)  # as filled, exact search
    hnsw = EdgeStore(largest, embedder=embedder)  # after optimize()
    try:
        store_items = default.count()
        query_embed, search, search_hnsw = measure_interleaved(
            [
                embedder.embed_query,
                lambda q: default.search(ns, query=q, limit=10),
                lambda q: hnsw.search(ns, query=q, limit=10),
            ],
            queries,
        )
    finally:
        default.close()
        hnsw.close()
    idle_cpu_ms = _cpu_after(embedder, queries[0])
    add_x, search_x = ratio(add_rate, embed_rate), ratio(search.p95_ms, query_embed.p95_ms)
    add_wal_x = ratio(add_wal_rate, embed_rate)
    return {
        "embedder": getattr(embedder, "name", type(embedder).__name__),
        "load_s": load_s,
        "sentences": len(texts),
        "embed_sentences_per_s": embed_rate,
        "add_items_per_s": add_rate,
        "rounds": {"embed_s": embed_s, "add_s": add_s},
        "add_vs_embed": add_x,
        "add_target": ADD_TARGET,
        "add_pass": add_x is not None and add_x >= ADD_TARGET,
        "add_wal_items_per_s": add_wal_rate,
        "add_wal_vs_embed": add_wal_x,
        "add_wal_pass": add_wal_x is not None and add_wal_x >= ADD_TARGET,
        "query_embed": query_embed.as_dict(),
        "store_items": store_items,
        "search_with_embed": search.as_dict(),
        "search_with_embed_hnsw": search_hnsw.as_dict(),
        "search_hnsw_vs_embed_p95": ratio(search_hnsw.p95_ms, query_embed.p95_ms),
        "search_vs_embed_p95": search_x,
        "search_target": SEARCH_TARGET,
        "search_pass": search_x is not None and search_x <= SEARCH_TARGET,
        "cpu_ms_in_100ms_after_embed": idle_cpu_ms,
    }


def run_bench(
    sizes: Sequence[int] = (10_000, 100_000),
    *,
    queries: int = 200,
    batch: int = 256,
    pool_size: int = 2000,
    noise: float = 0.25,
    seed: int = 0,
    skip_qdrant_local: bool = False,
    qdrant_local_queries: int = 20,
    skip_embedder: bool = False,
    embed_sentences: int = 1000,
    embed_queries: int = 100,
    embed_rounds: int = 2,
    embedder: Embedder | None = None,
    workdir: str | Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Run both benchmark sections and return every number, JSON-ready.

    Args:
        sizes: Item counts of the engine-only section.
        queries: Filtered hybrid searches timed per store and size.
        batch: Items per ``put_many`` call.
        pool_size: Distinct sentences embedded for real; item vectors are these plus noise.
        noise: Norm of the Gaussian noise added to a pool vector before renormalizing.
        seed: Seed of every random choice.
        skip_qdrant_local: Leave out ``QdrantStore(location=":memory:")``.
        qdrant_local_queries: Query cap for qdrant-client local mode from 50,000 items on (seconds per search).
        skip_embedder: Leave out section 2 (the real-embedder targets).
        embed_sentences: Sentences embedded, then added, in section 2.
        embed_queries: Queries timed in section 2, each embedded alone and searched, alternately.
        embed_rounds: Alternating rounds of (a) embedding and (b) adding in section 2; the best of each counts.
        embedder: Dense embedder (default: ``MiniLMEmbedder(batch_size=64)``).
        workdir: Folder for the stores (default: a temporary folder, removed afterwards).
        progress: Show tqdm bars on stderr while filling stores.

    Returns:
        ``machine``, ``config``, ``pool_embed_s``, ``engine`` (one dict per size), ``embedder``
        (None when skipped) and ``total_s``; render it with ``format_report``.

    Raises:
        ValueError: a size or count is not positive.
    """
    params = dict(locals())  # the run's configuration, recorded in the result
    if not sizes or min(sizes) < 1 or min(queries, batch, embed_sentences, embed_queries, embed_rounds) < 1:
        raise ValueError("sizes, queries, batch and the embed_* counts must be positive")
    cfg = {k: v for k, v in params.items() if k not in ("embedder", "workdir")} | {"sizes": sorted(set(sizes))}
    started = time.perf_counter()
    emb = embedder or MiniLMEmbedder(batch_size=64)
    tmp = None if workdir else tempfile.mkdtemp(prefix="memspy-bench-")
    work = Path(workdir or tmp or ".")
    try:
        pool = make_sentences(pool_size, seed)
        with Stopwatch() as load:  # loads the model; not part of any throughput below
            emb.embed_query("warm up the model")
        with Stopwatch() as sw:
            pool_vecs = np.asarray(emb.embed_documents(pool), dtype=np.float32)
        pool_vecs /= np.linalg.norm(pool_vecs, axis=1, keepdims=True)
        config = {k: v for k, v in cfg.items() if k != "progress"}
        result: dict[str, Any] = {"machine": machine_facts(), "config": config, "pool_embed_s": sw.seconds}
        result["engine"] = []
        for n in cfg["sizes"]:
            result["engine"].append(_engine_size(n, pool, pool_vecs, cfg, work / f"edge-{n}"))
            if n != max(sizes):  # section 2 reuses only the largest store
                shutil.rmtree(work / f"edge-{n}", ignore_errors=True)
        result["embedder"] = None if skip_embedder else _embedder_section(emb, pool, cfg, work, load.seconds)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    result["total_s"] = time.perf_counter() - started
    result["load_average_end"] = machine_facts()["load_average"]
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark from the command line and print the report; returns the exit code.

    Example:
        >>> main(["--sizes", "500", "--queries", "20", "--skip-qdrant-local", "--skip-embedder"])  # doctest: +SKIP
        0
    """
    p = argparse.ArgumentParser(prog="memspy bench", description=(__doc__ or "").splitlines()[0])
    p.add_argument("--sizes", default="10000,100000", help="comma-separated item counts (default: %(default)s)")
    p.add_argument("--queries", type=int, default=200, help="searches timed per store (default: %(default)s)")
    p.add_argument("--batch", type=int, default=256, help="items per put_many (default: %(default)s)")
    p.add_argument("--pool", dest="pool_size", type=int, default=2000, help="sentences embedded (default: 2000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--skip-qdrant-local", action="store_true", help="leave out QdrantStore(location=':memory:')")
    p.add_argument("--qdrant-local-queries", type=int, default=20, help="query cap at >= 50k items (default: 20)")
    p.add_argument("--skip-embedder", action="store_true", help="leave out the MiniLM section")
    p.add_argument("--workdir", help="build the stores here instead of in a temporary folder")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")
    p.add_argument("--json", metavar="PATH", help="also write every number to this JSON file")
    kwargs = vars(p.parse_args(argv))
    json_path, sizes_arg = kwargs.pop("json"), kwargs.pop("sizes")
    try:
        sizes = [int(s.replace("_", "")) for s in sizes_arg.split(",") if s.strip()]
    except ValueError:
        p.error(f"--sizes must be comma-separated integers, got {sizes_arg!r}")
    result = run_bench(sizes, **kwargs)
    print(format_report(result))
    if json_path:
        Path(json_path).write_text(json.dumps(result, indent=2))
        print(f"\nnumbers written to {json_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
