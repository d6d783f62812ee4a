"""Episodic memory's functional steps (no storage): per-turn summaries, and one finished episode consolidated."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

import dspy
from pydantic import ConfigDict, Field, RootModel, create_model

from memspy.pipelines.episodic.turns import Turn, parse_yes_no, render_summaries, split_turns, turn_record
from memspy.pipelines.runtime.steps import predictor, run_step
from memspy.pipelines.runtime.usage import Usage, UsageMeter
from memspy.signatures.episodes import ConsolidateEpisode, ExtractTurnEpisodes, TurnSummary

__all__ = ["EPISODE_TEXT_FIELDS", "EpisodeConsolidator", "TurnEpisodeExtractor"]

# The LM-written fields of a consolidated episode: what redaction runs over.
EPISODE_TEXT_FIELDS = ("situation", "intent", "assessment", "justification", "reflection")
_REQUIRED_TURN_FIELDS = ("situation", "intent", "action")


class TurnEpisodeExtractor(dspy.Module):
    """Summarizes each turn of a conversation: exactly one summary per turn. The predictor is ``self.extract_turns``.

    Args:
        lm: A ``dspy.LM``, a model string, or None for the configured LM.
        previous_turns: How many earlier turns are shown as context (``k``).
        turns_per_call: Turns summarized per LM call; later calls see the earlier turns as context.
        max_retries: Extra attempts when the answer has the wrong number of summaries or cannot be parsed.
    """

    def __init__(
        self, lm: Any = None, *, previous_turns: int = 2, turns_per_call: int = 3, max_retries: int = 2
    ) -> None:
        super().__init__()
        if previous_turns < 0 or turns_per_call < 1 or max_retries < 0:
            raise ValueError(
                f"previous_turns and max_retries must be >= 0 and turns_per_call >= 1, got "
                f"{previous_turns}, {max_retries}, {turns_per_call}"
            )
        self.previous_turns, self.turns_per_call, self.max_retries = previous_turns, turns_per_call, max_retries
        self.extract_turns = predictor(ExtractTurnEpisodes, lm)
        self.usage = UsageMeter()

    def _signature(self, ids: list[str]) -> Any:
        # Narrow turn_id to the ids asked for and put the exact count in the JSON schema (a RootModel keeps
        # minItems/maxItems, which DSPy drops from pydantic list constraints), so constrained decoding gives one
        # summary per turn; the count is still checked in code. Optimized instructions are kept.
        desc = TurnSummary.model_fields["turn_id"].description
        id_type: Any = Literal[tuple(ids)]
        item: Any = create_model("TurnSummary", __base__=TurnSummary, turn_id=(id_type, Field(description=desc)))
        n = len(ids)
        extra = ConfigDict(json_schema_extra={"minItems": n, "maxItems": n})
        summaries = type("TurnSummaries", (RootModel[list[item]],), {"model_config": extra})
        return self.extract_turns.signature.with_updated_fields("turns", type_=summaries)

    def forward(
        self, messages: Any = None, *, turns: list[Turn] | None = None, context: str = "", start: int = 0
    ) -> Any:
        """Summarize every turn.

        Args:
            messages: Chat messages (OpenAI or Anthropic shape); split into turns numbered from ``start``.
            turns: Already split turns, instead of ``messages``.
            context: Text shown as the turns before the first one (e.g. summaries from an earlier call).
            start: The id of the first turn when ``messages`` are given.

        Returns:
            ``Prediction(turns=[turn summary dicts], usage=Usage)``, one dict per turn with ``turn_id``,
            ``situation``, ``intent``, ``action``, ``thought``, ``assessment_assistant``, ``assessment_user``
            and the parsed ``assistant_succeeded``, ``assistant_reason``, ``episode_ended``, ``episode_end_reason``.

        Raises:
            EpisodicStepError: the LM kept giving a wrong number of summaries.
        """
        todo = turns if turns is not None else split_turns(messages, start=start)
        usage = Usage()
        out: list[dict[str, Any]] = []
        for i in range(0, len(todo), self.turns_per_call):
            chunk = todo[i : i + self.turns_per_call]
            earlier = todo[max(0, i - self.previous_turns) : i] if self.previous_turns else []
            previous = "\n".join(t.render() for t in earlier) if i else context
            ids = [t.id for t in chunk]
            after = todo[i + self.turns_per_call] if i + self.turns_per_call < len(todo) else None
            out += run_step(
                self.extract_turns,
                "extract_turns",
                usage,
                lambda pred, ids=ids: _check_turns(pred, ids),  # type: ignore[misc]
                self.max_retries,
                signature=self._signature(ids),
                conversation="\n".join(t.render() for t in chunk),
                previous_turns=previous or "(none)",
                next_user_message=after.render_user() if after is not None else "(none yet)",
                turn_ids=", ".join(ids),
            )
        self.usage.record(usage)
        return dspy.Prediction(turns=out, usage=usage)

    async def aforward(self, messages: Any = None, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.forward, messages, **kwargs)


def _check_turns(pred: dspy.Prediction, ids: list[str]) -> tuple[list[dict[str, Any]], list[str]]:
    raw = getattr(pred.turns, "root", pred.turns) or []
    got = [t.model_dump() if hasattr(t, "model_dump") else dict(t) for t in raw]
    if len(got) != len(ids):
        return [], [
            f"you gave {len(got)} turn summaries for {len(ids)} turns; give exactly one for each turn id: "
            + ", ".join(ids)
        ]
    if sorted(str(t.get("turn_id")) for t in got) == sorted(ids):
        got.sort(key=lambda t: ids.index(str(t["turn_id"])))
    else:  # the right count with muddled ids: the summaries are in turn order
        got = [{**t, "turn_id": i} for t, i in zip(got, ids, strict=True)]
    blank = [(t["turn_id"], f) for t in got for f in _REQUIRED_TURN_FIELDS if not str(t.get(f) or "").strip()]
    errors = [f"turn {tid}: {f} is empty" for tid, f in blank]
    return [turn_record(t) for t in got], errors


class EpisodeConsolidator(dspy.Module):
    """Consolidates the turn summaries of one finished episode. The predictor is ``self.consolidate``.

    Args:
        lm: A ``dspy.LM``, a model string, or None for the configured LM.
        max_retries: Extra attempts when the answer is unparseable or its assessment is not Yes/No.
    """

    def __init__(self, lm: Any = None, *, max_retries: int = 2) -> None:
        super().__init__()
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        self.max_retries = max_retries
        self.consolidate = predictor(ConsolidateEpisode, lm)
        self.usage = UsageMeter()

    def forward(self, turns: list[dict[str, Any]]) -> Any:
        """Consolidate an episode.

        Args:
            turns: The episode's turn summaries (as :class:`TurnEpisodeExtractor` returns them), oldest first.

        Returns:
            ``Prediction(episode={situation, intent, assessment, goal_achieved, justification, reflection},
            usage=Usage)``; ``goal_achieved`` is the assessment's Yes/No as a bool.

        Raises:
            ValueError: no turns were given.
            EpisodicStepError: the LM kept giving an invalid answer.
        """
        if not turns:
            raise ValueError("an episode needs at least one turn summary")
        usage = Usage()
        episode = run_step(
            self.consolidate, "consolidate", usage, _check_episode, self.max_retries, turns=render_summaries(turns)
        )
        self.usage.record(usage)
        return dspy.Prediction(episode=episode, usage=usage)

    async def aforward(self, turns: list[dict[str, Any]]) -> Any:
        return await asyncio.to_thread(self.forward, turns)


def _check_episode(pred: dspy.Prediction) -> tuple[dict[str, Any], list[str]]:
    fields = {k: str(getattr(pred, k, "") or "").strip() for k in EPISODE_TEXT_FIELDS}
    achieved, _reason = parse_yes_no(fields["assessment"])
    errors = [f"{k} is empty" for k in ("situation", "intent") if not fields[k]]
    if achieved is None:
        errors.append(f"assessment must start with Yes or No, got {fields['assessment'][:80]!r}")
    return {**fields, "goal_achieved": achieved}, errors
