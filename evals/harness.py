"""The evaluation run: select questions, ingest each conversation into each pipeline, retrieve, answer, record.

A run directory holds ``config.json``, ``ingest.jsonl`` (one row per pipeline per conversation: time, LM
cost, memories stored), ``results.jsonl`` (one row per question per pipeline, appended as soon as it is
done), ``state/`` (persistent pipelines' stores), then ``summary.json`` and ``report.html``. With
``resume=True`` a killed run continues: finished questions are skipped, stores already filled are reopened,
and a half-written last line is dropped. The raw-turn baselines (``dense``, ``bm25``, ``rrf``) run in
every run (R@k only: ``raw`` is their QA counterpart), and ``full`` (the whole conversation) when QA is on.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import dspy
from tqdm import tqdm

from memspy.evals.jsonl import load_dataset
from memspy.evals.locomo import Conversation, Question
from memspy.evals.metrics import covered_turns, recall_at_k
from memspy.evals.pipelines import BASELINES, Hit, PipelineContext, as_hit, load_pipeline
from memspy.evals.qa import QAItem, QARunner, render_context
from memspy.evals.report import summarize, write_report
from memspy.pipelines.runtime import Usage, measure
from memspy.stores import Embedder, MiniLMEmbedder

__all__ = ["EvalConfig", "RunDir", "run_eval", "select_questions"]

_STRICT = ("dataset", "ks", "categories", "limit", "conversations", "max_sessions", "seed", "qa_k", "with_date")


@dataclass
class EvalConfig:
    """What to evaluate (the CLI flags). ``conversations``: ids, or None for all."""

    dataset: str
    pipelines: list[str] = field(default_factory=lambda: ["raw"])
    ks: list[int] = field(default_factory=lambda: [1, 5, 10, 25])
    categories: list[int] = field(default_factory=lambda: [1, 2, 3, 4])
    limit: int | None = None
    conversations: list[str] | None = None
    max_sessions: int | None = None
    seed: int = 0
    baselines: bool = True
    qa: bool = False
    judge: bool = True
    qa_k: int = 10
    workers: int = 1
    context_budget: int = 24_000
    with_date: bool = True
    lm: str | None = None


def select_questions(convs: list[Conversation], cfg: EvalConfig) -> list[tuple[Conversation, list[Question]]]:
    """Pick conversations and questions: category filter, then at most ``limit`` per conversation (seeded)."""
    out = []
    for conv in convs:
        if cfg.conversations and conv.sample_id not in cfg.conversations:
            continue
        if cfg.max_sessions:
            conv = conv.truncated(cfg.max_sessions)
        qs = [q for q in conv.questions if q.category in cfg.categories]
        if cfg.limit is not None and len(qs) > cfg.limit:
            keep = set(random.Random(f"{cfg.seed}/{conv.sample_id}").sample(range(len(qs)), cfg.limit))
            qs = [q for i, q in enumerate(qs) if i in keep]
        out.append((conv, qs))
    if cfg.conversations and {c.sample_id for c, _ in out} != set(cfg.conversations):
        missing = set(cfg.conversations) - {c.sample_id for c, _ in out}
        raise ValueError(f"unknown conversations {sorted(missing)}; the dataset has {[c.sample_id for c in convs]}")
    return out


class RunDir:
    """The files of one run; rows are appended and flushed one by one."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.config, self.results, self.ingest = (
            self.path / n for n in ("config.json", "results.jsonl", "ingest.jsonl")
        )
        self.state = self.path / "state"

    def prepare(self, config: dict[str, Any], resume: bool) -> None:
        """Create the directory, or check that a resumed run has the same configuration.

        Raises:
            FileExistsError: results exist and ``resume`` is False.
            ValueError: resuming with a configuration that changes which questions or metrics are run.
        """
        if self.results.exists() and not resume:
            raise FileExistsError(f"{self.path} already holds a run: pass --resume to continue it, or another --out")
        if resume and self.config.exists():
            old = json.loads(self.config.read_text())
            diff = [k for k in _STRICT if old.get(k) != config.get(k)]
            if diff:
                raise ValueError(f"cannot resume {self.path}: {', '.join(diff)} differ from the original run")
        self.path.mkdir(parents=True, exist_ok=True)
        self.config.write_text(json.dumps(config, indent=2))

    @staticmethod
    def read(path: Path) -> list[dict[str, Any]]:
        """Rows of a JSONL file; a half-written last line (a killed run) is cut off the file."""
        if not path.exists():
            return []
        raw = path.read_bytes()
        if raw and not raw.endswith(b"\n"):
            raw = raw[: raw.rfind(b"\n") + 1]
            path.write_bytes(raw)
        return [json.loads(line) for line in raw.decode().splitlines() if line.strip()]

    @staticmethod
    def append(path: Path, row: dict[str, Any]) -> None:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            f.flush()


def _row(name: str, q: Question, hits: list[Hit], seconds: float, ks: list[int], recall: bool) -> dict[str, Any]:
    ranked = [list(h.dia_ids) for h in hits]
    rec = {str(k): recall_at_k(ranked, q.evidence, k) for k in ks} if recall and q.evidence else None
    return {
        "pipeline": name,
        "conversation": q.conversation_id,
        "qid": q.qid,
        "category": q.category,
        "question": q.question,
        "gold": q.answer,
        "evidence": list(q.evidence),
        "retrieved": ranked[: max(ks)],
        "recall": rec,
        "turns_at_k": {str(k): len(covered_turns(ranked, k)) for k in ks} if recall else None,
        "search_ms": seconds * 1000,
    }


def _ingest(name: str, pipeline: Any, conv: Conversation, rd: RunDir) -> None:
    usage, t0 = Usage(), time.perf_counter()
    with measure(usage, "ingest"):
        pipeline.ingest(conv)
    row = {"pipeline": name, "conversation": conv.sample_id, "turns": len(conv.turns), "sessions": len(conv.sessions)}
    row["seconds"] = time.perf_counter() - t0
    row["usage"] = usage.as_dict()
    row["memories"] = pipeline.memory_count() if hasattr(pipeline, "memory_count") else None
    RunDir.append(rd.ingest, row)


def _questions(
    name: str, conv: Conversation, batch: list[Question], pipeline: Any, cfg: EvalConfig, runner: QARunner | None
) -> list[dict[str, Any]]:
    """Retrieve (timed, one at a time) then answer a batch of questions; return their result rows."""
    recall, full = getattr(pipeline, "recall", True), getattr(pipeline, "full_context", False)
    rows: list[dict[str, Any]] = []
    items: list[tuple[int, QAItem]] = []
    for q in batch:
        t0 = time.perf_counter()
        hits = [as_hit(h) for h in pipeline.retrieve(q.question, max(cfg.ks))]
        row = _row(name, q, hits, time.perf_counter() - t0, cfg.ks, recall)
        if runner is not None:
            context = render_context(hits if full else hits[: cfg.qa_k], conv)
            row["context_chars"] = len(context)
            if len(context) > cfg.context_budget:
                row["qa_skipped"] = f"context of {len(context)} chars is over the budget of {cfg.context_budget}"
            else:
                items.append((len(rows), QAItem(q, context)))
        rows.append(row)
    if runner is not None:
        for (i, _), outcome in zip(items, runner.run([it for _, it in items]), strict=True):
            rows[i].update(outcome.as_dict())
    return rows


def run_eval(
    cfg: EvalConfig,
    out: str | Path,
    *,
    resume: bool = False,
    embedder: Embedder | None = None,
    lm: Any = None,
    factories: dict[str, Callable[[PipelineContext], Any]] | None = None,
    conversations: list[Conversation] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Run (or resume) an evaluation and write its run directory; return the summary.

    Args:
        cfg: What to run.
        out: The run directory.
        resume: Continue a run in ``out``.
        embedder: Dense embedder for stores and baselines (default: offline MiniLM).
        lm: The LM for QA and LM pipelines (default: DSPy's configured LM).
        factories: Pipelines by name, used for ``cfg.pipelines`` entries of that name (instead of resolving them).
        conversations: The data, if already loaded (default: ``load_dataset(cfg.dataset)``).
        progress: Show tqdm bars.

    Raises:
        ValueError: an LM is needed (QA or the semantic pipeline) and none is given or configured.
    """
    started = time.perf_counter()
    names = [*(BASELINES if cfg.baselines else ()), *cfg.pipelines, *(["full"] if cfg.qa else [])]
    specs: dict[str, Callable[[PipelineContext], Any]] = {}
    for n in dict.fromkeys(names):
        label, factory = (n, factories[n]) if factories and n in factories else load_pipeline(n)
        specs[label] = factory
    lm = lm if lm is not None else dspy.settings.lm
    if lm is None and (cfg.qa or "semantic" in specs):
        raise ValueError("QA and the semantic pipeline need an LM: pass --lm (e.g. --lm local), or --no-qa")
    rd = RunDir(out)
    rd.prepare(asdict(cfg), resume)
    selected = select_questions(conversations if conversations is not None else load_dataset(cfg.dataset), cfg)
    done = {(r["pipeline"], r["qid"]) for r in RunDir.read(rd.results)}
    ingested = {(r["pipeline"], r["conversation"]) for r in RunDir.read(rd.ingest)}
    work = [(n, c, [q for q in qs if (n, q.qid) not in done]) for n in specs for c, qs in selected]
    work = [w for w in work if w[2]]
    embedder = embedder or MiniLMEmbedder()
    runner = QARunner(judge=cfg.judge, workers=cfg.workers) if cfg.qa else None
    opened: list[tuple[str, Conversation, list[Question], Any]] = []
    with dspy.context(lm=lm, adapter=dspy.settings.adapter or dspy.JSONAdapter()):
        try:
            todo = sum(len(c.turns) for n, c, _ in work if (n, c.sample_id) not in ingested)
            with tqdm(total=todo, desc="ingest", unit="turn", disable=not progress) as bar:
                for name, conv, pending in work:
                    workdir = rd.state / name / conv.sample_id
                    known = (name, conv.sample_id) in ingested
                    if not known:
                        shutil.rmtree(workdir, ignore_errors=True)
                    workdir.mkdir(parents=True, exist_ok=True)
                    options = {"with_date": cfg.with_date}
                    pipeline = specs[name](PipelineContext(workdir, conv, embedder, cfg.seed, options))
                    opened.append((name, conv, pending, pipeline))
                    if not known:
                        _ingest(name, pipeline, conv, rd)
                        bar.update(len(conv.turns))
                    elif not getattr(pipeline, "persistent", False):
                        pipeline.ingest(conv)  # in-memory state is rebuilt; its cost was recorded the first time
            with tqdm(
                total=sum(len(p) for *_, p, _ in opened), desc="questions", unit="q", disable=not progress
            ) as bar:
                for name, conv, pending, pipeline in opened:
                    qa = None if name in BASELINES else runner  # the raw-turn baselines are R@k only
                    step = max(cfg.workers, 1) * 2 if qa else 1
                    for start in range(0, len(pending), step):
                        for row in _questions(name, conv, pending[start : start + step], pipeline, cfg, qa):
                            RunDir.append(rd.results, row)
                            bar.update(1)
        finally:
            for *_, pipeline in opened:
                if hasattr(pipeline, "close"):
                    pipeline.close()
    rows, ingest_rows = RunDir.read(rd.results), RunDir.read(rd.ingest)
    summary = summarize(rows, ingest_rows, cfg.ks)
    summary["config"] = asdict(cfg)
    summary["invocation_seconds"] = time.perf_counter() - started
    (rd.path / "summary.json").write_text(json.dumps(summary, indent=2))
    write_report(rd.path, rows, summary)
    return summary
