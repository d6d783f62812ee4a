"""Tuning: an optuna study over the store-backed extraction pipeline's non-prompt knobs.

    memspy tune --data dev.jsonl --trials 20 --out tune.json

Each labeled ``extract`` record's ``existing`` memories are written to its own namespace of a scratch
``EdgeStore`` (plus ``--distractors`` memories from other records, so that retrieval has to find the right
ones). A trial builds a :class:`~memspy.pipelines.semantic.store_manager.MemoryStoreManager` with the suggested knobs,
retrieves each record's related memories as the store manager does, runs the memory manager on them and scores
the operations with :class:`~memspy.evals.metrics_memory.ExtractionMetric`; the trial's value is the mean.

Knobs (:data:`SPACE`): ``query_limit`` (memories shown to the LM), the four :class:`RankingWeights` blend
weights, and ``max_steps``. The saved JSON holds every trial (params, value, LM calls, tokens), the best
params and ``best_config`` ready for ``create_memory_store_manager(query_limit=..., weights=RankingWeights(
**weights), max_steps=...)``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import optuna

from memspy.evals.metrics_memory import ExtractionMetric
from memspy.pipelines.errors import MemoryExtractionError
from memspy.pipelines.records import INDEX_FIELDS, RankingWeights, new_record
from memspy.pipelines.runtime import normalize_messages
from memspy.pipelines.semantic import MemoryStoreManager
from memspy.stores import EdgeStore, PutOp

__all__ = ["SPACE", "tune"]

SPACE: dict[str, tuple[float, float]] = {
    "query_limit": (1, 10),
    "relevance": (0.0, 1.0),
    "importance": (0.0, 1.0),
    "recency": (0.0, 1.0),
    "frequency": (0.0, 1.0),
    "max_steps": (1, 3),
}
_WEIGHTS = ("relevance", "importance", "recency", "frequency")
_INTS = ("query_limit", "max_steps")


def _fill_store(store: Any, records: list[Any], distractors: int) -> None:
    pool = [(r.id, m) for r in records for m in r.fields["existing"]]
    puts = []
    for r in records:
        ns = ("tune", r.id)
        own = [(m["id"], m) for m in r.fields["existing"]]
        others = [(f"x-{rid}-{m['id']}", m) for rid, m in pool if rid != r.id][:distractors]
        for key, m in own + others:
            value = new_record(m.get("kind") or "Memory", m["content"], importance=m.get("importance", 0.5))
            puts.append(PutOp(ns, key, value, INDEX_FIELDS))
    if puts:
        store.put_many(puts)


def _config(params: dict[str, Any]) -> dict[str, Any]:
    return {
        "query_limit": int(params["query_limit"]),
        "max_steps": int(params["max_steps"]),
        "weights": {k: float(params[k]) for k in _WEIGHTS},
    }


def tune(
    records: list[Any],
    *,
    trials: int = 20,
    seed: int = 0,
    store: Any = None,
    metric: Any = None,
    program: str | Path | None = None,
    distractors: int = 0,
    space: dict[str, tuple[float, float]] | None = None,
) -> dict[str, Any]:
    """Run the study on labeled ``extract`` records with the configured DSPy LM.

    Args:
        records: ``extract`` records (:func:`memspy.evals.labeled.load_labeled`).
        trials: Number of optuna trials (TPE sampler).
        seed: Sampler seed.
        store: A scratch store to fill (default: a temporary ``EdgeStore``); use an empty one.
        metric: Default :class:`~memspy.evals.metrics_memory.ExtractionMetric`.
        program: A compiled memory-manager program to load into every trial.
        distractors: Memories from other records added to each record's namespace.
        space: Overrides of :data:`SPACE` bounds.

    Returns:
        The results (see the module docstring).
    """
    if not records or any(r.task != "extract" for r in records):
        raise ValueError("tune needs a non-empty list of 'extract' records")
    bounds = {**SPACE, **(space or {})}
    metric = metric or ExtractionMetric()
    scratch = tempfile.TemporaryDirectory(prefix="memspy-tune-") if store is None else None
    store = store if store is not None else EdgeStore(Path(scratch.name) / "store")  # type: ignore[union-attr]
    _fill_store(store, records, distractors)

    def objective(trial: optuna.Trial) -> float:
        p = {
            k: trial.suggest_int(k, int(lo), int(hi)) if k in _INTS else trial.suggest_float(k, lo, hi)
            for k, (lo, hi) in bounds.items()
        }
        cfg = _config(p)
        sm = MemoryStoreManager(
            namespace=("tune", "{example}"), store=store, query_limit=cfg["query_limit"],
            weights=RankingWeights(**cfg["weights"]), max_steps=cfg["max_steps"],
        )  # fmt: skip
        if program is not None:
            sm.manager.load(str(program))
        scores, calls, tokens = [], 0, 0
        for r in records:
            msgs = normalize_messages(r.fields["messages"])
            # The store manager's own retrieval step, so the knobs act exactly as in production.
            shown = sm.retrieve_existing(("tune", r.id), msgs)
            existing = [(key, value["kind"], value["content"]) for key, value in shown.items()]
            try:
                pred = sm.manager(messages=msgs, existing=existing)
            except MemoryExtractionError:
                scores.append(0.0)
                continue
            calls, tokens = calls + pred.usage.calls, tokens + pred.usage.total_tokens
            scores.append(float(metric(r.to_example(), pred).score))
        trial.set_user_attr("lm_calls", calls)
        trial.set_user_attr("tokens", tokens)
        return sum(scores) / len(scores)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    try:
        study.optimize(objective, n_trials=trials)
    finally:
        if scratch is not None:
            store.close()
            scratch.cleanup()
    return {
        "pipeline": "extract",
        "metric": getattr(metric, "name", "metric"),
        "examples": len(records),
        "distractors": distractors,
        "best_value": study.best_value,
        "best_params": study.best_params,
        "best_config": _config(study.best_params),
        "trials": [
            {
                "number": t.number,
                "state": t.state.name,
                "value": t.value,
                "params": t.params,
                "lm_calls": t.user_attrs.get("lm_calls"),
                "tokens": t.user_attrs.get("tokens"),
            }
            for t in study.trials
        ],
    }
