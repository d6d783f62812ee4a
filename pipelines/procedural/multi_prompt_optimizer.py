"""Procedural memory for a system of several prompts (LangMem's ``create_multi_prompt_optimizer``).

First one LM call attributes the feedback to the prompts that need to change (skipped when there is only one
prompt). Names it returns are checked against the given prompts: an unknown name sends the answer back with the
valid names listed, and after ``max_retries`` retries :class:`PromptOptimizationError` is raised. Then the
single-prompt optimizer (any kind) runs on each chosen prompt, told about the other prompts and the attribution;
all prompts come back in their original order, the chosen ones with their updated ``prompt``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import dspy

from memspy.pipelines.errors import PromptOptimizationError
from memspy.pipelines.procedural.prompt_optimizer import OptimizerKind, PromptOptimizer, create_prompt_optimizer
from memspy.pipelines.procedural.prompts import Prompt, as_prompt, render_trajectories
from memspy.pipelines.runtime.steps import run_step
from memspy.pipelines.runtime.usage import Usage, UsageMeter
from memspy.signatures.optimization import AttributeFeedback

__all__ = ["MultiPromptOptimizer", "create_multi_prompt_optimizer"]


def _named_prompts(prompts: Any) -> list[Prompt]:
    if not isinstance(prompts, list | tuple) or not prompts:
        raise ValueError("prompts must be a non-empty list of Prompt dicts with 'name' and 'prompt'")
    specs = [as_prompt(p, default_name="") for p in prompts]
    names = [s["name"] for s in specs]
    if "" in names or len(set(names)) != len(names):
        raise ValueError(f"every prompt needs a unique non-empty 'name', got {names}")
    return specs


def _render_prompts(specs: list[Prompt]) -> str:
    blocks = []
    for s in specs:
        when = f"\nChange it when: {s['when_to_update']}" if s.get("when_to_update") else ""
        blocks.append(f"## {s['name']}{when}\n{s['prompt']}")
    return "\n\n".join(blocks)


def _team_context(spec: Prompt, specs: list[Prompt], analysis: str) -> str:
    others = [s["name"] for s in specs if s["name"] != spec["name"]]
    parts = [f"This prompt is {spec['name']!r}, one of the prompts of a system with {others}."] if others else []
    if analysis:
        parts.append(f"Analysis of the feedback: {analysis}")
    return "\n".join(parts)


class MultiPromptOptimizer(dspy.Module):
    """Attributes feedback to prompts (predictor ``attribute``) and optimizes those with ``self.optimizer``."""

    def __init__(self, lm: Any = None, *, optimizer: PromptOptimizer, max_retries: int = 2) -> None:
        super().__init__()
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        self.optimizer = optimizer
        self.max_retries = max_retries
        self.attribute = dspy.Predict(AttributeFeedback)
        if lm is not None:
            self.attribute.set_lm(lm)
        self.usage = UsageMeter()

    def _attribute(self, specs: list[Prompt], conversations: str, usage: Usage) -> tuple[list[str], str]:
        valid = [s["name"] for s in specs]

        def validate(pred: dspy.Prediction) -> tuple[tuple[list[str], str], list[str]]:
            names = [str(n).strip() for n in (pred.prompts_to_update or [])]
            unknown = [n for n in names if n not in valid]
            problems = [f"{unknown} are not prompt names; the names are {valid}"] if unknown else []
            return (list(dict.fromkeys(names)), str(pred.analysis or "")), problems

        return run_step(
            self.attribute, "attribute", usage, validate, self.max_retries, error=PromptOptimizationError,
            prompts=_render_prompts(specs), conversations=conversations,
        )  # fmt: skip

    def forward(self, trajectories: Any, prompts: Any) -> dspy.Prediction:
        """Optimize the prompts that the feedback implicates.

        Args:
            trajectories: ``[(messages, feedback), ...]`` as for :class:`PromptOptimizer`.
            prompts: ``Prompt`` dicts (or pydantic models) with unique ``name`` s.

        Returns:
            ``Prediction(prompts=[Prompt...] in the given order, attributed=[names chosen], updated=[names whose
            text changed], analysis=str, usage=Usage)``.

        Raises:
            PromptOptimizationError: The attribution kept naming prompts that do not exist.
        """
        specs = _named_prompts(prompts)
        usage = Usage()
        if len(specs) == 1:
            chosen, analysis = [specs[0]["name"]], ""
        else:
            chosen, analysis = self._attribute(specs, render_trajectories(trajectories), usage)
        out: list[Prompt] = []
        updated: list[str] = []
        for spec in specs:
            if spec["name"] not in chosen:
                out.append(spec)
                continue
            pred = self.optimizer(trajectories=trajectories, prompt=spec, context=_team_context(spec, specs, analysis))
            usage.merge(pred.usage)
            out.append(Prompt(**{**spec, "prompt": pred.prompt}))
            if pred.changed:
                updated.append(spec["name"])
        self.usage.record(usage)
        return dspy.Prediction(prompts=out, attributed=chosen, updated=updated, analysis=analysis, usage=usage)

    def invoke(self, input: dict[str, Any], config: Any = None) -> list[Prompt]:
        """LangMem's call shape: ``{"trajectories": [...], "prompts": [Prompt, ...]}`` -> the prompts, updated."""
        return list(self(trajectories=input["trajectories"], prompts=input["prompts"]).prompts)

    async def ainvoke(self, input: dict[str, Any], config: Any = None) -> list[Prompt]:
        return await asyncio.to_thread(self.invoke, input, config)

    async def aforward(self, trajectories: Any, prompts: Any) -> dspy.Prediction:
        return await asyncio.to_thread(self.forward, trajectories, prompts)


def create_multi_prompt_optimizer(
    lm: Any = None, *, kind: OptimizerKind = "gradient", config: dict[str, Any] | None = None
) -> MultiPromptOptimizer:
    """Create a multi-prompt optimizer (LangMem's ``create_multi_prompt_optimizer``).

    Args:
        lm: A ``dspy.LM``, a model string, or None for ``dspy.configure``.
        kind: The single-prompt optimizer run on each chosen prompt (see :func:`create_prompt_optimizer`).
        config: As for :func:`create_prompt_optimizer`; ``max_retries`` also bounds the attribution retries.

    Example:
        >>> optimizer = create_multi_prompt_optimizer("local", kind="prompt_memory")  # doctest: +SKIP
        >>> optimizer.invoke({"trajectories": conversations, "prompts": [
        ...     {"name": "researcher", "prompt": "You find papers"}, {"name": "writer", "prompt": "You write"}]})
    """
    optimizer = create_prompt_optimizer(lm, kind=kind, config=config)
    retries = int((config or {}).get("max_retries", 2))
    attribute_lm = optimizer.predictors()[0].lm
    return MultiPromptOptimizer(attribute_lm, optimizer=optimizer, max_retries=retries)
