"""Benchmark helpers: a stopwatch, latency percentiles, safe ratios, plain-text tables and machine facts."""

from __future__ import annotations

import math
import os
import platform
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import Any

__all__ = [
    "Latency",
    "Stopwatch",
    "fmt",
    "format_report",
    "format_table",
    "machine_facts",
    "measure_interleaved",
    "measure_latency",
    "percentile",
    "ratio",
]

_PACKAGES = ("qdrant-edge-py", "qdrant-client", "fastembed", "onnxruntime", "numpy")


def percentile(samples: Sequence[float], q: float) -> float:
    """Return the ``q``-th percentile (0-100) of ``samples`` with linear interpolation (numpy's default).

    Args:
        samples: Measurements; must not be empty.
        q: Percentile in ``[0, 100]``.

    Raises:
        ValueError: ``samples`` is empty or ``q`` is out of range.
    """
    if not samples:
        raise ValueError("percentile of no samples")
    if not 0 <= q <= 100:
        raise ValueError(f"q must be in [0, 100], got {q!r}")
    xs = sorted(samples)
    pos = (len(xs) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


@dataclass(frozen=True)
class Latency:
    """Summary of per-call latencies, in milliseconds."""

    p50_ms: float
    p95_ms: float
    mean_ms: float
    n: int

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Latency:
        """Summarize per-call durations given in seconds."""
        ms = [s * 1000 for s in seconds]
        return cls(percentile(ms, 50), percentile(ms, 95), sum(ms) / len(ms), len(ms))

    def as_dict(self) -> dict[str, float | int]:
        """Return the summary as a JSON-ready dict."""
        return {"p50_ms": self.p50_ms, "p95_ms": self.p95_ms, "mean_ms": self.mean_ms, "n": self.n}


class Stopwatch:
    """Context manager measuring wall-clock seconds with ``time.perf_counter``.

    Example:
        >>> with Stopwatch() as sw:
        ...     pass
        >>> sw.seconds >= 0
        True
    """

    def __init__(self) -> None:
        self.seconds = 0.0
        self._start = 0.0

    def __enter__(self) -> Stopwatch:
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._start


def measure_latency(fn: Callable[[str], object], inputs: Iterable[str], *, warmup: bool = True) -> Latency:
    """Call ``fn`` once per input and summarize the latencies.

    Args:
        fn: The operation to time (its result is discarded).
        inputs: One argument per timed call; must not be empty.
        warmup: Make one untimed call with the first input before timing.
    """
    return measure_interleaved([fn], inputs, warmup=warmup)[0]


def measure_interleaved(
    fns: Sequence[Callable[[str], object]], inputs: Iterable[str], *, warmup: bool = True
) -> list[Latency]:
    """Time several operations on the same inputs, alternating per input so that they share machine load.

    Args:
        fns: The operations to compare.
        inputs: One argument per timed call of each operation; must not be empty.
        warmup: Make one untimed call of each operation with the first input before timing.
    """
    items = list(inputs)
    if warmup and items:
        for fn in fns:
            fn(items[0])
    samples: list[list[float]] = [[] for _ in fns]
    for x in items:
        for fn, out in zip(fns, samples, strict=True):
            start = time.perf_counter()
            fn(x)
            out.append(time.perf_counter() - start)
    return [Latency.of(s) for s in samples]


def ratio(num: float | None, den: float | None) -> float | None:
    """Return ``num / den``, or None when either side is missing, non-finite or not positive."""
    if num is None or den is None or not math.isfinite(num) or not math.isfinite(den) or num <= 0 or den <= 0:
        return None
    return num / den


def fmt(x: float | int | str | None, digits: int = 2) -> str:
    """Format a table cell: ``-`` for None, thousands separators for large numbers."""
    if x is None:
        return "-"
    if isinstance(x, str):
        return x
    if isinstance(x, int) or abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{digits}f}"


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, title: str | None = None) -> str:
    """Render rows as an aligned plain-text table (first column left-aligned, the rest right-aligned).

    Args:
        headers: Column names.
        rows: Cells; non-strings go through :func:`fmt`.
        title: Optional line printed above the table.
    """
    cells = [[c if isinstance(c, str) else fmt(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]

    def line(parts: Sequence[str]) -> str:
        return "  ".join(
            p.ljust(w) if i == 0 else p.rjust(w) for i, (p, w) in enumerate(zip(parts, widths, strict=True))
        )

    out = [title] if title else []
    out += [line(headers), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in cells]
    return "\n".join(out)


def _memory_gib() -> float | None:
    try:
        with open("/proc/meminfo") as f:
            for row in f:
                if row.startswith("MemTotal:"):
                    return round(int(row.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return None


def _load() -> list[float] | None:
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None


def machine_facts() -> dict[str, Any]:
    """Facts about this machine and the engine versions, for the report header and the JSON."""
    versions: dict[str, str] = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu_count": os.cpu_count(),
        "usable_cpus": usable,
        "cpu": platform.processor() or platform.machine(),
        "memory_gib": _memory_gib(),
        "load_average": _load(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
    }


_NAMES = {
    "edge": "EdgeStore exact",
    "edge_hnsw": "EdgeStore HNSW",
    "qdrant_local": "QdrantStore local",
    "numpy": "numpy",
}
_NOTES = (
    "EdgeStore = the qdrant-edge engine in-process, every batch flushed to disk; HNSW row: '+s' is optimize() time.",
    "QdrantStore local = qdrant-client location=':memory:' (a pure-Python test double of the server, not the engine).",
    "numpy = dense cosine only (no BM25/RRF, payloads or persistence), argpartition top-10 under a namespace mask.",
)


def _engine_row(n: int, label: str, x: dict[str, Any]) -> list[Any]:
    fill = x["fill_s"] if "fill_s" in x else f"+{x['optimize_s']:.2f}"
    s = x["search"]
    return [f"{n:,}", label, fill, x.get("put_items_per_s", "-"), s["n"], s["p50_ms"], s["p95_ms"]]


def _verdict(ok: bool, value: float | None) -> str:
    return "n/a" if value is None else ("PASS" if ok else "MISS")


def format_report(result: dict[str, Any]) -> str:
    """Render a ``memspy.evals.bench.run_bench`` result as the printed benchmark report."""
    m, cfg = result["machine"], result["config"]
    out = [
        "memspy bench",
        f"machine: {m['cpu_count']} CPUs ({m['usable_cpus']} usable), {m['cpu']}, {m['memory_gib']} GiB RAM, "
        f"Python {m['python']}, {m['platform']}",
        f"load average (1, 5, 15 min) at start {m['load_average']}, at end {result.get('load_average_end')}: "
        "other processes on this machine compete for the same cores",
        "versions: " + ", ".join(f"{k} {x}" for k, x in m["versions"].items()),
        f"vectors: {cfg['pool_size']:,} distinct sentences embedded for real in {result['pool_embed_s']:.1f} s; "
        f"item vector = pool vector + seeded noise (norm {cfg['noise']}), renormalized",
        "",
    ]
    rows, ratio_rows, notes = [], [], []
    for r in result["engine"]:
        n, q, x = r["n"], r["qdrant_local"], r["ratios"]
        rows += [_engine_row(n, "EdgeStore (exact)", r["edge"]), _engine_row(n, "EdgeStore (HNSW)", r["edge_hnsw"])]
        if q is not None:
            rows.append(_engine_row(n, "QdrantStore local" + (" *" if q["capped"] else ""), q))
            if q["capped"]:
                notes.append(
                    f"* N={n:,}: QdrantStore local timed on {q['search']['n']} queries only "
                    f"(each search takes ~{q['search']['mean_ms'] / 1000:.1f} s), so its p95 is rough"
                )
        rows.append(_engine_row(n, "numpy brute force", r["numpy"]))
        for other in ("qdrant_local", "numpy"):
            if r[other] is None:
                continue
            ratio_rows.append([f"{n:,}", f"put throughput: EdgeStore / {_NAMES[other]}", x[f"edge_vs_{other}_put_x"]])
            for edge in ("edge", "edge_hnsw"):
                label = f"search p95: {_NAMES[other]} / {_NAMES[edge]}"
                ratio_rows.append([f"{n:,}", label, x[f"{edge}_vs_{other}_search_p95_x"]])
    title = (
        f"1. Engine only: put_many in batches of {cfg['batch']}; filtered hybrid search (dense + BM25, RRF) "
        "in ('memories', 'u7') = 1/50 of the items, limit 10"
    )
    headers = ["N", "engine", "fill s", "put items/s", "queries", "search p50 ms", "search p95 ms"]
    out += [format_table(headers, rows, title=title), *notes, *_NOTES, ""]
    out.append(format_table(["N", "ratio (same run; > 1 means EdgeStore is better)", "x"], ratio_rows, title="Ratios"))
    emb = result.get("embedder")
    if emb:
        c, d, r_add, r_s = emb["query_embed"], emb["search_with_embed"], emb["add_vs_embed"], emb["search_vs_embed_p95"]
        pair = "{p50_ms:.2f} / {p95_ms:.2f}"
        rows = [
            [
                f"(a) embed_documents, {emb['sentences']:,} sentences, batch 64: sentences/s",
                emb["embed_sentences_per_s"],
            ],
            [f"(b) EdgeStore.put_many with embedding, batch {cfg['batch']}: items/s", emb["add_items_per_s"]],
            ["(b) / (a)", r_add, f">= {emb['add_target']}", _verdict(emb["add_pass"], r_add)],
            ["(b') the same with durability='wal': items/s", emb["add_wal_items_per_s"]],
            [
                "(b') / (a)",
                emb["add_wal_vs_embed"],
                f">= {emb['add_target']}",
                _verdict(emb["add_wal_pass"], emb["add_wal_vs_embed"]),
            ],
            [f"(c) embed_query alone, {c['n']} queries: p50 / p95 ms", pair.format(**c)],
            [
                f"(d) EdgeStore.search with query embedding, {emb['store_items']:,} items: p50 / p95 ms",
                pair.format(**d),
            ],
            ["p95(d) / p95(c)", r_s, f"<= {emb['search_target']}", _verdict(emb["search_pass"], r_s)],
            ["(d') the same after optimize() (HNSW): p50 / p95 ms", pair.format(**emb["search_with_embed_hnsw"])],
            ["p95(d') / p95(c)", emb["search_hnsw_vs_embed_p95"]],
        ]
        title = (
            f"2. With the real embedder ({emb['embedder']}; model load {emb['load_s']:.2f} s, not counted); "
            f"(a), (b): best of {len(emb['rounds']['embed_s'])} alternating rounds; (c), (d), (d'): alternating per "
            "query on the largest store of section 1, as filled (exact search, EdgeStore's default) and optimized"
        )
        rows = [r + [""] * (4 - len(r)) for r in rows]
        out += ["", format_table(["metric", "value", "target", "result"], rows, title=title)]
        spin = emb["cpu_ms_in_100ms_after_embed"]
        out.append(
            f"CPU burnt by this process in the idle 100 ms after an embed_query: {spin:.1f} ms (well above 0 means"
            " the embedder's worker threads spin and compete with the search that follows)"
        )
    out += ["", f"total time: {result['total_s']:.1f} s"]
    return "\n".join(out)
