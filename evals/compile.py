"""Compile memspy's own pipelines with DSPy optimizers against labeled data.

A pipeline is registered in :data:`PIPELINES` with its labeled-data task, a builder, a metric, a way to turn
labeled records into ``dspy.Example`` s and its bundled labeled set: ``extract`` (the
:class:`~memspy.pipelines.semantic.manager.MemoryManager`), ``episode`` (turn extraction and consolidation of
:class:`~memspy.pipelines.episodic.EpisodicMemory`) and ``reflection`` (its ``Reflector``); the episodic two are
in :mod:`memspy.evals.compile_episodic`.

Optimizers: ``labeled`` (``LabeledFewShot``: ``max_demos`` labeled records sampled as demos, no LM call),
``bootstrap`` (``BootstrapFewShot``: demos from traces that score ``>= pass_threshold``, topped up
with labeled demos), ``mipro`` (``MIPROv2``: instructions and demos searched by optuna over ``trials`` trials),
``gepa`` (``dspy.GEPA``: reflective instruction evolution from the metric's feedback, ``trials`` full evaluations).
Extraction examples carry the labeled answer in the predictor's own fields, so labeled demos are complete demos.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import dspy

from memspy.evals.compile_episodic import build_episode, build_reflection, episode_example, reflection_example
from memspy.evals.labeled import LabeledRecord
from memspy.evals.metrics_memory import EpisodeMetric, ExtractionMetric, ReflectionMetric, TextMatcher, float_metric
from memspy.pipelines.records import render_content
from memspy.pipelines.runtime import normalize_messages, render_transcript
from memspy.pipelines.semantic import MemoryManager, create_memory_manager, parse_existing
from memspy.pipelines.semantic.facts import fact_item_type, render_dialogue

__all__ = [
    "OPTIMIZERS",
    "PIPELINES",
    "OptimizerName",
    "PipelineSpec",
    "build_pipeline",
    "compile_program",
    "evaluate_program",
    "labeled_demos",
    "make_examples",
    "make_metric",
]

OptimizerName = Literal["labeled", "bootstrap", "mipro", "gepa"]
OPTIMIZERS: tuple[str, ...] = ("labeled", "bootstrap", "mipro", "gepa")


def _extraction_example(record: LabeledRecord, manager: MemoryManager) -> dspy.Example:
    """The record as an Example, plus the ``extract`` predictor's inputs and labeled answer."""
    by_name = {s.name: s for s in manager.schemas}
    # The manager's own rendering of what its predictor is shown, so that demos look like real calls.
    working = manager.seed_existing(parse_existing(record.fields["existing"], manager.schemas))
    ops: list[dict[str, Any]] = []
    for op in record.fields.get("expected") or []:
        if op["kind"] not in by_name:
            raise ValueError(f"record {record.id!r} (line {record.line}) uses kind {op['kind']!r}, not in {by_name}")
        content = None
        if op["action"] != "delete":
            content = by_name[op["kind"]].validate(op["content"]).model_dump(exclude_none=True)
        ops.append({"action": op["action"], "id": op["id"], "kind": op["kind"], "content": content, "importance": 0.5})
    if manager.design == "facts":
        return _facts_example(record, manager, ops)
    if not ops:
        ops = [{"action": "none", "id": None, "kind": manager.schemas[0].name, "content": None, "importance": 0.0}]
    labels = {
        "conversation": render_transcript(record.fields["messages"]),
        "existing_memories": manager.existing_text(working),
        "memory_kinds": manager.kinds_text(),
        "corrections": "",
        "operations": ops,
    }
    example = record.to_example()
    return dspy.Example(base=example, **labels).with_inputs(*example.inputs().keys())


def _facts_example(record: LabeledRecord, manager: MemoryManager, ops: list[dict[str, Any]]) -> dspy.Example:
    """The record for the facts design: the ``extract`` predictor's input and its labeled facts (what the
    record inserts or updates to), so a labeled demo is a complete ``extract`` demo."""
    single = fact_item_type(manager.schemas)
    facts: list[Any] = []
    for op in ops:
        if op["action"] == "delete":
            continue
        content = op["content"]
        if single is str:
            facts.append(render_content(content))
        elif isinstance(single, type) and any(s.model is single for s in manager.schemas):
            facts.append(content)
        else:
            facts.append({"kind": op["kind"], "content": content})
    # The fact behind a delete is not labeled: such a record is scored, never shown as a demo.
    label = {} if any(op["action"] == "delete" for op in ops) else {"facts": facts}
    messages = normalize_messages(record.fields["messages"])
    labels = {
        "conversation": render_dialogue(messages, include_assistant=manager.include_assistant),
        "memory_kinds": manager.kinds_text(),
        "corrections": "",
        **label,
    }
    example = record.to_example()
    return dspy.Example(base=example, **labels).with_inputs(*example.inputs().keys())


@dataclass(frozen=True)
class PipelineSpec:
    """How to build, feed and score one compilable pipeline."""

    task: str
    build: Callable[..., dspy.Module]
    to_example: Callable[[Any, Any], dspy.Example]
    metric: Callable[..., Any]  # a feedback metric class of memspy.evals.metrics_memory
    dataset: str = "semantic_extraction"  # the bundled labeled set (memspy/evals/_data/<dataset>.jsonl)


def _build_extract(lm: Any = None, **options: Any) -> dspy.Module:
    options.setdefault("enable_deletes", True)  # labeled data holds deletes
    options.setdefault("compiled", False)  # compile from the uncompiled manager, not from the shipped program
    return create_memory_manager(lm, **options)


PIPELINES: dict[str, PipelineSpec] = {
    "extract": PipelineSpec("extract", _build_extract, _extraction_example, ExtractionMetric),
    "episode": PipelineSpec("episode", build_episode, episode_example, EpisodeMetric, "episodes"),
    "reflection": PipelineSpec("reflection", build_reflection, reflection_example, ReflectionMetric, "reflections"),
}


def _spec(name: str) -> PipelineSpec:
    if name not in PIPELINES:
        raise ValueError(f"no compilable pipeline {name!r}; available: {sorted(PIPELINES)}")
    return PIPELINES[name]


def build_pipeline(name: str = "extract", lm: Any = None, **options: Any) -> dspy.Module:
    """Build pipeline ``name`` (``program=`` loads a compiled program, as every factory does)."""
    return _spec(name).build(lm, **options)


def make_examples(name: str, records: list[LabeledRecord], program: dspy.Module) -> list[dspy.Example]:
    """Turn labeled records of the pipeline's task into Examples for ``program``.

    Raises:
        ValueError: A record is of another task, or does not fit the program (e.g. an unknown memory kind).
    """
    spec = _spec(name)
    wrong = [r.id for r in records if r.task != spec.task]
    if wrong:
        raise ValueError(f"pipeline {name!r} takes {spec.task!r} records; these are not: {wrong[:5]}")
    return [spec.to_example(r, program) for r in records]


def make_metric(name: str = "extract", matcher: TextMatcher | None = None, *, pass_threshold: float = 1.0) -> Any:
    """The feedback metric of pipeline ``name`` (see :mod:`memspy.evals.metrics_memory`)."""
    return _spec(name).metric(matcher, pass_threshold=pass_threshold)


def evaluate_program(program: dspy.Module, devset: list[dspy.Example], metric: Any, *, threads: int = 1) -> float:
    """Mean metric score of ``program`` on ``devset`` in [0, 1]; a failing call scores 0."""
    if not devset:
        raise ValueError("devset is empty")
    evaluate = dspy.Evaluate(
        devset=devset,
        metric=float_metric(metric),
        num_threads=threads,
        display_progress=False,
        display_table=False,
        max_errors=len(devset) + 1,  # an LM that fails on every example scores 0 instead of aborting
    )
    return float(evaluate(program).score) / 100


def _demo_group(example: dspy.Example) -> tuple[bool, bool, bool]:
    messages = example.get("messages") or []
    return (len(messages) > 4, not example.get("expected"), bool(example.get("existing")))


def labeled_demos(program: dspy.Module, trainset: list[dspy.Example], k: int, *, seed: int = 0) -> dspy.Module:
    """``LabeledFewShot`` with a spread: each predictor gets ``k`` labeled examples that carry all its output
    fields and a non-empty answer, taken in turn from groups (long sessions first, then with stored memories,
    then the rest). Empty answers are never demos: measured on the local LM, one "nothing to remember" demo
    among four made it answer [] to most conversations (measured while its grammar still refused the demos'
    indented layout, which alone made every demo program answer []; not measured again since)."""
    compiled = program.reset_copy()
    rng = random.Random(seed)
    for _, predictor in compiled.named_predictors():
        outputs = list(predictor.signature.output_fields)
        fit = [e for e in trainset if all(e.get(f) not in (None, [], "") for f in outputs)]
        groups: dict[tuple[bool, bool, bool], list[dspy.Example]] = {}
        for e in fit:
            groups.setdefault(_demo_group(e), []).append(e)
        pools = [rng.sample(g, len(g)) for _, g in sorted(groups.items(), reverse=True)]
        demos: list[dspy.Example] = []
        while len(demos) < k and any(pools):
            for pool in pools:
                if pool and len(demos) < k:
                    demos.append(pool.pop())
        predictor.demos = demos
    return compiled


def _labels_fit(program: dspy.Module, examples: list[dspy.Example]) -> bool:
    """Whether some example carries all output fields of some predictor (a complete labeled demo)."""
    outputs = [list(p.signature.output_fields) for p in program.predictors()]
    return any(all(e.get(f) is not None for f in fields) for e in examples for fields in outputs)


def compile_program(
    program: dspy.Module,
    trainset: list[dspy.Example],
    *,
    optimizer: OptimizerName,
    metric: Any,
    valset: list[dspy.Example] | None = None,
    max_demos: int = 3,
    trials: int = 10,
    reflection_lm: Any = None,
    threads: int = 1,
    seed: int = 0,
) -> dspy.Module:
    """Compile ``program`` with a DSPy optimizer; the input program is left unchanged.

    Args:
        program: The pipeline module.
        trainset: Examples from :func:`make_examples`.
        optimizer: ``labeled``, ``bootstrap``, ``mipro`` or ``gepa``.
        metric: A feedback metric from :func:`make_metric` (it has ``pass_threshold``).
        valset: Examples to select candidates on (MIPROv2, GEPA); default: the trainset.
        max_demos: Most bootstrapped and most labeled demos per predictor (no labeled ones when no example
            carries a predictor's output fields, as for ``episode``).
        trials: MIPROv2's optuna trials; GEPA's budget of full evaluations.
        reflection_lm: GEPA's reflection LM and MIPROv2's prompt model (default: the configured LM).
        threads: Parallel evaluations (keep 1 for the in-process local LM).
        seed: Random seed.

    Returns:
        The compiled program.
    """
    if not trainset:
        raise ValueError("trainset is empty")
    threshold = float(getattr(metric, "pass_threshold", 1.0))
    labeled = max_demos if _labels_fit(program, trainset) else 0  # else they would be demos no prompt can show
    if optimizer == "labeled":
        return labeled_demos(program, trainset, max_demos, seed=seed)
    if optimizer == "bootstrap":
        bootstrap = dspy.BootstrapFewShot(
            metric=metric,
            metric_threshold=threshold,  # without it a Prediction(score=0.0) counts as a pass
            max_bootstrapped_demos=max_demos,
            max_labeled_demos=labeled,
            max_errors=len(trainset) + 1,
        )
        return bootstrap.compile(program, trainset=trainset)
    valset = valset or trainset
    if optimizer == "mipro":
        mipro = dspy.MIPROv2(
            metric=float_metric(metric),
            prompt_model=reflection_lm,
            auto=None,
            num_candidates=max(2, min(trials, 6)),
            max_bootstrapped_demos=max_demos,
            max_labeled_demos=labeled,
            num_threads=threads,
            max_errors=len(trainset) + len(valset) + 1,
            metric_threshold=threshold,
            seed=seed,
            verbose=False,
        )
        size = min(35, len(valset))
        return mipro.compile(
            program, trainset=trainset, valset=valset, num_trials=trials, minibatch=len(valset) > size,
            minibatch_size=size, seed=seed,
        )  # fmt: skip
    if optimizer == "gepa":
        gepa = dspy.GEPA(
            metric=metric,
            reflection_lm=reflection_lm or dspy.settings.lm,
            max_full_evals=trials,
            num_threads=threads,
            seed=seed,
            reflection_minibatch_size=min(3, len(trainset)),
        )
        return gepa.compile(program, trainset=trainset, valset=valset)
    raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
