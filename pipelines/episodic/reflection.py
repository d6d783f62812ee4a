"""Reflection generation (no storage): a new episode plus related memory becomes reflection adds and updates.

Rules enforced in code, whatever the LM answers:

- ``update`` must name the id of a reflection that was shown, else the answer is retried (then an error);
- an update whose ``use_cases`` + ``hints`` exceed :data:`MAX_REFLECTION_WORDS` words becomes an ``add`` of a new,
  narrower reflection (``split_from`` names the original), leaving the original unchanged;
- ``confidence`` is clamped to 0.1-1.0 and rounded to steps of 0.1;
- an update repeating an id and an add repeating a title are dropped.
"""

from __future__ import annotations

import asyncio
import json
import math
import uuid
from dataclasses import dataclass
from typing import Any, Literal

import dspy
from pydantic import BaseModel, Field, create_model

from memspy.pipelines.runtime.steps import predictor, run_step
from memspy.pipelines.runtime.usage import Usage, UsageMeter
from memspy.signatures.reflection import GenerateReflections, ReflectionOperation

__all__ = [
    "MAX_REFLECTION_WORDS",
    "ReflectionChange",
    "Reflector",
    "clamp_confidence",
    "validate_reflections",
]

MAX_REFLECTION_WORDS = 300


@dataclass
class ReflectionChange:
    """A validated reflection change. ``id`` is the new key for an add, the updated key for an update."""

    operator: Literal["add", "update"]
    id: str
    title: str
    use_cases: str
    hints: str
    confidence: float
    split_from: str | None = None


def clamp_confidence(value: Any) -> float:
    """Clamp to [0.1, 1.0] on the 0.1 grid; a missing or non-numeric value becomes 0.5.

    Example:
        >>> clamp_confidence(1.7), clamp_confidence(0.04), clamp_confidence(0.66)
        (1.0, 0.1, 0.7)
    """
    try:
        v = float(value)
    except (TypeError, ValueError):
        return 0.5
    if math.isnan(v):
        return 0.5
    return round(min(1.0, max(0.1, round(v * 10) / 10)), 1)


def _words(*texts: str) -> int:
    return sum(len(t.split()) for t in texts)


def validate_reflections(raw_ops: list[Any], shown_ids: list[str]) -> tuple[list[ReflectionChange], list[str]]:
    """Apply the rules in the module docstring; return (changes, problems). Any problem means a retry."""
    shown = set(shown_ids)
    changes: list[ReflectionChange] = []
    errors: list[str] = []
    updated: set[str] = set()
    titles: set[str] = set()
    for n, raw in enumerate(raw_ops or []):
        op = raw.model_dump() if isinstance(raw, BaseModel) else dict(raw)
        operator, rid = op.get("operator"), str(op.get("id") or "").strip()
        title, use_cases, hints = (str(op.get(k) or "").strip() for k in ("title", "use_cases", "hints"))
        where = f"reflection {n} ({operator} {rid})".replace(" )", ")")
        if operator not in ("add", "update"):
            errors.append(f"{where}: operator must be add or update")
            continue
        if not title or not hints:
            errors.append(f"{where}: title and hints must not be empty")
            continue
        confidence = clamp_confidence(op.get("confidence"))
        if operator == "update":
            if rid not in shown:
                errors.append(f"{where}: id {rid!r} is not one of the existing reflection ids {sorted(shown)}")
                continue
            if rid in updated:
                continue
            updated.add(rid)
            if _words(use_cases, hints) <= MAX_REFLECTION_WORDS:
                changes.append(ReflectionChange("update", rid, title, use_cases, hints, confidence))
                continue
            split_from: str | None = rid  # too long to grow: a new, narrower reflection instead
        else:
            split_from = None
        if title.lower() in titles:
            continue
        titles.add(title.lower())
        new_id = uuid.uuid4().hex[:12]
        changes.append(ReflectionChange("add", new_id, title, use_cases, hints, confidence, split_from))
    return changes, errors


def _line(rid: str, rec: dict[str, Any]) -> str:
    body = {k: rec.get(k) for k in ("title", "use_cases", "hints", "confidence")}
    return json.dumps({"id": rid, **body}, ensure_ascii=False)


class Reflector(dspy.Module):
    """Generates reflections from a new episode, related past episodes and existing reflections.

    The predictor is ``self.reflect``.

    Args:
        lm: A ``dspy.LM``, a model string, or None for the configured LM.
        max_retries: Extra attempts when the answer breaks a rule or cannot be parsed.
    """

    def __init__(self, lm: Any = None, *, max_retries: int = 2) -> None:
        super().__init__()
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        self.max_retries = max_retries
        self.reflect = predictor(GenerateReflections, lm)
        self.usage = UsageMeter()

    def _signature(self, ids: list[str]) -> Any:
        # Constrained decoding can then only name shown ids (and only "add" when there are none).
        fields = ReflectionOperation.model_fields
        operators: Any = Literal["add", "update"] if ids else Literal["add"]
        rid: Any = Literal[tuple(ids)] | None if ids else None
        model: Any = create_model(
            "ReflectionOperation",
            __base__=ReflectionOperation,
            operator=(operators, Field(description=fields["operator"].description)),
            id=(rid, Field(default=None, description=fields["id"].description)),
        )
        return self.reflect.signature.with_updated_fields("reflections", type_=list[model])

    def forward(
        self,
        episode: str,
        relevant_episodes: list[str] | None = None,
        existing: list[tuple[str, dict[str, Any]]] | None = None,
        system_prompt: str | None = None,
    ) -> Any:
        """Propose reflection changes.

        Args:
            episode: The new episode as text (see ``memspy.pipelines.episodic.memory``'s rendering).
            relevant_episodes: Related past episodes as texts.
            existing: ``(id, reflection record)`` pairs shown to the LM; updates may name only these ids.
            system_prompt: The agent's instructions, if known.

        Returns:
            ``Prediction(changes=[ReflectionChange...], usage=Usage)``.

        Raises:
            EpisodicStepError: the LM kept breaking the rules.
        """
        shown = list(existing or [])
        ids = [rid for rid, _ in shown]
        usage = Usage()
        changes = run_step(
            self.reflect,
            "reflect",
            usage,
            lambda pred: validate_reflections(pred.reflections, ids),
            self.max_retries,
            signature=self._signature(ids),
            episode=episode,
            relevant_episodes="\n\n".join(relevant_episodes or []) or "(none)",
            existing_reflections="\n".join(_line(rid, rec) for rid, rec in shown) or "(none)",
            agent_instructions=system_prompt or "(unknown)",
        )
        self.usage.record(usage)
        return dspy.Prediction(changes=changes, usage=usage)

    async def aforward(self, episode: str, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.forward, episode, **kwargs)
