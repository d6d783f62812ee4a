"""Procedural memory: update one system prompt from conversations and feedback (LangMem's prompt optimizers).

Three kinds, as in LangMem:

- ``prompt_memory``: one LM call rewrites the prompt.
- ``metaprompt``: ``min_reflection_steps``..``max_reflection_steps`` reflection calls (stopping early once the LM
  says it is done, but never before the minimum), then one call writes the prompt from those reflections.
- ``gradient``: ``max(1, min)``..``max(1, max)`` calls propose hypotheses and recommendations (same early stop);
  if the last proposal says no change is warranted the prompt comes back unchanged with no further call,
  otherwise one more call applies the recommendations.

Template variables (``{user_name}``) are protected: a rewrite that is empty, drops one or invents one is sent
back once per retry with the problem named; if it is still wrong after ``max_retries`` retries, the ORIGINAL
prompt is returned unchanged (``pred.changed`` is False, ``pred.problems`` says why, and a warning is logged),
so an optimizer never hands back a prompt that would break ``str.format``. An LM whose answers cannot be
parsed at all raises :class:`PromptOptimizationError`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Literal

import dspy

from memspy.pipelines.errors import PromptOptimizationError
from memspy.pipelines.procedural.prompts import (
    as_prompt,
    check_template,
    render_guidance,
    render_trajectories,
)
from memspy.pipelines.runtime.steps import accept, resolve_lm, run_step
from memspy.pipelines.runtime.usage import Usage, UsageMeter
from memspy.signatures.optimization import ApplyPromptUpdate, ProposePromptUpdate, ReflectOnPrompt, RewritePrompt

__all__ = ["OptimizerKind", "PromptOptimizer", "create_prompt_optimizer"]

logger = logging.getLogger(__name__)
OptimizerKind = Literal["gradient", "metaprompt", "prompt_memory"]
_KINDS = ("gradient", "metaprompt", "prompt_memory")


class PromptOptimizer(dspy.Module):
    """Rewrites one prompt from ``(messages, feedback)`` trajectories; see the module docstring for the kinds.

    Predictors (the keys of saved programs): ``rewrite`` (prompt_memory, metaprompt), ``reflect`` (metaprompt),
    ``propose`` and ``apply`` (gradient).
    """

    def __init__(
        self,
        lm: Any = None,
        *,
        kind: OptimizerKind = "gradient",
        max_reflection_steps: int = 3,
        min_reflection_steps: int = 1,
        max_retries: int = 2,
    ) -> None:
        super().__init__()
        if kind not in _KINDS:
            raise ValueError(f"kind must be one of {list(_KINDS)}, got {kind!r}")
        if not 0 <= min_reflection_steps <= max_reflection_steps or max_retries < 0:
            raise ValueError(
                "need 0 <= min_reflection_steps <= max_reflection_steps and max_retries >= 0, got "
                f"{min_reflection_steps}, {max_reflection_steps}, {max_retries}"
            )
        self.kind = kind
        self.max_steps, self.min_steps, self.max_retries = max_reflection_steps, min_reflection_steps, max_retries
        if kind == "gradient":  # at least one proposal: without it there is nothing to apply
            self.max_steps, self.min_steps = max(1, self.max_steps), max(1, self.min_steps)
            self.propose = dspy.Predict(ProposePromptUpdate)
            self.apply = dspy.Predict(ApplyPromptUpdate)
        else:
            if kind == "metaprompt":
                self.reflect = dspy.Predict(ReflectOnPrompt)
            self.rewrite = dspy.Predict(RewritePrompt)
        resolved = resolve_lm(lm)
        if resolved is not None:
            for predictor in self.predictors():
                predictor.set_lm(resolved)
        self.usage = UsageMeter()

    def _call(self, predictor: dspy.Predict, step: str, usage: Usage, **inputs: Any) -> dspy.Prediction:
        """One predictor call with no ``corrections`` input; unparseable answers are retried, then raise."""
        return run_step(
            predictor, step, usage, accept, self.max_retries, feedback=False, error=PromptOptimizationError, **inputs
        )

    def _write(
        self, predictor: dspy.Predict, step: str, usage: Usage, original: str, **inputs: Any
    ) -> tuple[str, list[str]]:
        """Ask for a new prompt until it keeps the template; return (prompt, problems of the last rejected try).

        Each try gets its own retries for answers that do not parse; a prompt still breaking the template after
        the last try gives back the original.
        """

        def validate(pred: dspy.Prediction) -> tuple[tuple[str, list[str]], list[str]]:
            text = str(pred.updated_prompt or "").strip()
            return (text, []), check_template(original, text)

        def keep_original(problems: list[str]) -> tuple[str, list[str]]:
            logger.warning("prompt optimizer kept the original prompt: %s", "; ".join(problems))
            return original, problems

        return run_step(
            predictor, step, usage, validate, self.max_retries, parse_retries=self.max_retries,
            fallback=keep_original, error=PromptOptimizationError, **inputs,
        )  # fmt: skip

    def _rounds(self, predictor: dspy.Predict, step: str, usage: Usage, earlier: str, **inputs: Any) -> list[Any]:
        """Between min and max rounds of ``predictor``, each seeing the earlier ones; stop once it says done."""
        rounds: list[Any] = []
        for n in range(self.max_steps):
            notes = "\n\n".join(f"Round {i + 1}:\n{_notes(r)}" for i, r in enumerate(rounds))
            pred = self._call(predictor, step, usage, **{earlier: notes}, **inputs)
            rounds.append(pred)
            if bool(pred.done) and n + 1 >= self.min_steps:
                break
        return rounds

    def forward(self, trajectories: Any, prompt: Any, context: str = "") -> dspy.Prediction:
        """Optimize ``prompt`` against ``trajectories``.

        Args:
            trajectories: ``[(messages, feedback), ...]``; feedback is None or a dict (``score``, ``comment``,
                ``revised`` or any other keys).
            prompt: A string, or a :class:`Prompt` (dict or pydantic model) with optional ``update_instructions``
                and ``when_to_update``.
            context: Extra guidance for the LM (the multi-prompt optimizer passes the rest of the system).

        Returns:
            ``Prediction(prompt=str, changed=bool, notes=str, problems=[str], usage=Usage)``.
        """
        spec = as_prompt(prompt)
        original = spec["prompt"]
        shared = {
            "current_prompt": original,
            "conversations": render_trajectories(trajectories),
            "guidance": render_guidance(spec, context),
        }
        usage = Usage()
        if self.kind == "gradient":
            rounds = self._rounds(self.propose, "propose", usage, "earlier_proposals", **shared)
            last = rounds[-1]
            notes = f"Hypotheses: {last.hypotheses}\nRecommendations: {last.recommendations}"
            problems: list[str] = []
            if not bool(last.change_warranted):
                text = original
            else:
                recs = {"current_prompt": original, "recommendations": notes, "guidance": shared["guidance"]}
                text, problems = self._write(self.apply, "apply", usage, original, **recs)
        else:
            notes = ""
            if self.kind == "metaprompt":
                rounds = self._rounds(self.reflect, "reflect", usage, "earlier_reflections", **shared)
                notes = "\n\n".join(str(r.reflection) for r in rounds)
            text, problems = self._write(self.rewrite, "rewrite", usage, original, reflections=notes, **shared)
        self.usage.record(usage)
        changed = text.strip() != original.strip()
        return dspy.Prediction(prompt=text, changed=changed, notes=notes, problems=problems, usage=usage)

    def invoke(self, input: dict[str, Any], config: Any = None) -> str:
        """LangMem's call shape: ``{"trajectories": [...], "prompt": str | Prompt}`` -> the updated prompt."""
        return str(self(trajectories=input["trajectories"], prompt=input["prompt"]).prompt)

    async def ainvoke(self, input: dict[str, Any], config: Any = None) -> str:
        return await asyncio.to_thread(self.invoke, input, config)

    async def aforward(self, trajectories: Any, prompt: Any, context: str = "") -> dspy.Prediction:
        return await asyncio.to_thread(self.forward, trajectories, prompt, context)


def _notes(pred: Any) -> str:
    if "reflection" in pred:
        return str(pred.reflection)
    return f"Hypotheses: {pred.hypotheses}\nRecommendations: {pred.recommendations}"


def create_prompt_optimizer(
    lm: Any = None, *, kind: OptimizerKind = "gradient", config: dict[str, Any] | None = None
) -> PromptOptimizer:
    """Create a single-prompt optimizer (LangMem's ``create_prompt_optimizer``).

    Args:
        lm: A ``dspy.LM``, a model string (``"local"``, ``"openai/gpt-4o-mini"``), or None for ``dspy.configure``.
        kind: ``"gradient"`` (2-10 calls), ``"metaprompt"`` (1-N reflections + 1 call) or ``"prompt_memory"``
            (1 call).
        config: ``max_reflection_steps`` (default 3), ``min_reflection_steps`` (default 1), ``max_retries``
            (default 2, for unparseable answers and broken template variables).

    Example:
        >>> optimizer = create_prompt_optimizer("local", kind="prompt_memory")  # doctest: +SKIP
        >>> optimizer.invoke({"trajectories": [(messages, {"score": 0})], "prompt": "You are {bot_name}."})
    """
    cfg = dict(config or {})
    unknown = set(cfg) - {"max_reflection_steps", "min_reflection_steps", "max_retries"}
    if unknown:
        raise ValueError(f"unknown config keys {sorted(unknown)}")
    return PromptOptimizer(lm, kind=kind, **cfg)
