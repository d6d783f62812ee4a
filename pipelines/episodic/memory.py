"""The episodic memory pipeline (AgentCore's episodic strategy) over a memspy store.

Each turn is summarized as it arrives and kept open (persisted); when a turn ends the user's request, or the
session closes, the open turns become an episode: consolidated, reflected on, redacted and stored in one batch.
"""

from __future__ import annotations

import asyncio
from typing import Any

import dspy

from memspy.pipelines.episodic.episodes import EPISODE_TEXT_FIELDS, EpisodeConsolidator, TurnEpisodeExtractor
from memspy.pipelines.episodic.privacy import PiiRedactor
from memspy.pipelines.episodic.records import (
    EPISODE_KIND,
    REFLECTION_KIND,
    episode_record,
    format_episodes,
    format_reflections,
    new_reflection_record,
    render_episode,
    updated_reflection_record,
)
from memspy.pipelines.episodic.reflection import ReflectionChange, Reflector
from memspy.pipelines.episodic.sessions import OpenSessions, session_id_from
from memspy.pipelines.episodic.turns import (
    TURN_TEXT_FIELDS,
    render_summaries,
    split_turns,
    system_prompt_of,
    with_verdicts,
)
from memspy.pipelines.records.format import INDEX_FIELDS, now_iso
from memspy.pipelines.records.namespaces import NamespaceTemplate
from memspy.pipelines.records.recall import RankedMemory, RankingWeights, search_memories
from memspy.pipelines.runtime.messages import normalize_messages
from memspy.pipelines.runtime.steps import resolve_lm
from memspy.pipelines.runtime.usage import Usage, UsageMeter
from memspy.stores import BaseStore, Namespace, PutOp

__all__ = ["EpisodicMemory"]


class EpisodicMemory(dspy.Module):
    """Turns conversations into episodes and reflections, and recalls them for an agent about to act.

    Sub-modules (saved-program keys): ``turn_extractor.extract_turns``, ``consolidator.consolidate``,
    ``reflector.reflect``, ``redactor.find_pii``.

    Args:
        store: Where episodes and reflections are kept.
        lm: A ``dspy.LM``, a model string, or None for the configured LM.
        namespace: Episode namespace template; open turns live under ``namespace + ("_open",)``.
        reflection_namespace: Reflection namespace template.
        previous_turns: Earlier turns shown as context when summarizing (``k``).
        turns_per_call: Turns summarized per LM call.
        max_episode_turns: An episode is closed after this many turns even without an end signal.
        past_episodes: Related past episodes shown when generating reflections.
        existing_reflections: Existing reflections shown (and updatable) when generating reflections.
        system_prompt: The agent's instructions for reflection generation (default: the messages' system message).
        redact_with_lm: Also let the LM mark addresses, names and ids (pattern redaction always runs).
        generate_reflections: Generate reflections for each episode.
        max_retries: Extra LM attempts per step.
        weights: Ranked-recall weights for retrieval.

    Example:
        >>> memory = EpisodicMemory(EdgeStore("/tmp/ep"))  # doctest: +SKIP
        >>> cfg = {"configurable": {"actor_id": "agent-1"}}
        >>> memory.process(messages, session_id="s1", config=cfg)  # doctest: +SKIP
        >>> memory.close_session("s1", config=cfg)  # doctest: +SKIP
        >>> system_prompt += memory.relevant_reflections("rebook a flight", 3, config=cfg)  # doctest: +SKIP
    """

    def __init__(
        self,
        store: BaseStore,
        *,
        lm: Any = None,
        namespace: Namespace | str = ("episodes", "{actor_id}"),
        reflection_namespace: Namespace | str = ("reflections", "{actor_id}"),
        previous_turns: int = 2,
        turns_per_call: int = 3,
        max_episode_turns: int = 20,
        past_episodes: int = 3,
        existing_reflections: int = 5,
        system_prompt: str | None = None,
        redact_with_lm: bool = True,
        generate_reflections: bool = True,
        max_retries: int = 2,
        weights: RankingWeights | None = None,
    ) -> None:
        super().__init__()
        if max_episode_turns < 1 or past_episodes < 0 or existing_reflections < 0:
            raise ValueError("max_episode_turns must be >= 1, past_episodes and existing_reflections >= 0")
        self.store = store
        self.namespace = NamespaceTemplate(namespace)
        self.reflection_namespace = NamespaceTemplate(reflection_namespace)
        lm = resolve_lm(lm)  # once: a model string must not load one local model per step
        self.turn_extractor = TurnEpisodeExtractor(
            lm, previous_turns=previous_turns, turns_per_call=turns_per_call, max_retries=max_retries
        )
        self.consolidator = EpisodeConsolidator(lm, max_retries=max_retries)
        self.reflector = Reflector(lm, max_retries=max_retries)
        self.redactor = PiiRedactor(lm, use_lm=redact_with_lm, max_retries=max_retries)
        self.max_episode_turns, self.past_episodes = max_episode_turns, past_episodes
        self.existing_reflections, self.system_prompt = existing_reflections, system_prompt
        self.generate_reflections = generate_reflections
        self.weights = weights or RankingWeights()
        self.usage = UsageMeter()
        self.sessions = OpenSessions(store)

    def open_sessions(self, config: dict[str, Any] | None = None, *, limit: int = 100) -> list[str]:
        """Sessions with turns not yet part of an episode (e.g. to close them after a restart)."""
        return self.sessions.with_open_turns(self.namespace.resolve(config), limit=limit)

    def _redact(self, records: list[dict[str, Any]], fields: tuple[str, ...], usage: Usage) -> list[dict[str, Any]]:
        texts = [str(r.get(f) or "") for r in records for f in fields]
        pred = self.redactor(texts)
        usage.merge(pred.usage)
        it = iter(pred.texts)
        return [{**r, **{f: next(it) for f in fields}} for r in records]

    # ---- writing ---------------------------------------------------------------------------------
    def process(
        self,
        messages: Any,
        session_id: str | None = None,
        config: dict[str, Any] | None = None,
        *,
        system_prompt: str | None = None,
    ) -> dspy.Prediction:
        """Add a session's new messages: summarize their turns, store every episode they finish.

        Args:
            messages: The messages since the last call for this session (OpenAI or Anthropic shape).
            session_id: The session (default: ``config["configurable"]["session_id"]`` or ``thread_id``).
            config: Fills the namespace templates, e.g. ``{"configurable": {"actor_id": "agent-1"}}``.
            system_prompt: The agent's instructions for reflection generation.

        Returns:
            ``Prediction(turns=[new turn summaries], episodes=[{namespace, key, value}],
            reflections=[{namespace, key, event, value}], open_turn_ids=[...], usage=Usage)``.

        Raises:
            EpisodicStepError: a step's LM output stayed invalid. If summarizing failed, nothing was stored: send
                the same messages again. If a later step failed, the turns stay open and the next call (or
                :meth:`close_session`) retries their episode.
        """
        msgs = normalize_messages(messages)
        ns, sid = self.namespace.resolve(config), session_id_from(session_id, config)
        agent = system_prompt or self.system_prompt or system_prompt_of(msgs)
        usage = Usage()
        episodes: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        new: list[dict[str, Any]] = []
        with self.sessions.lock(ns, sid):
            state = self.sessions.load(ns, sid)
            turns = split_turns(msgs, start=int(state["next_turn_id"]))
            if turns:
                pred = self.turn_extractor(turns=turns, context=render_summaries(state["recent_turns"]))
                usage.merge(pred.usage)
                new = [with_verdicts(t) for t in self._redact(pred.turns, TURN_TEXT_FIELDS, usage)]
                keep = self.turn_extractor.previous_turns
                state.update(
                    next_turn_id=int(turns[-1].id) + 1,
                    open_turns=[*state["open_turns"], *new],
                    recent_turns=[*state["recent_turns"], *new][-keep:] if keep else [],
                )
                state.pop("closed_at", None)
                self.store.batch(puts=[self.sessions.put_op(ns, state)])  # before consolidation: nothing is lost
            while (end := self._episode_end(state["open_turns"])) is not None:
                done = state["open_turns"][: end + 1]
                state = {**state, "open_turns": state["open_turns"][end + 1 :]}
                ep, evs = self._finish(ns, sid, state, usage, agent, config, done)
                episodes.append(ep)
                events += evs
        self.usage.record(usage)
        open_ids = [t["turn_id"] for t in state["open_turns"]]
        return dspy.Prediction(turns=new, episodes=episodes, reflections=events, open_turn_ids=open_ids, usage=usage)

    def _episode_end(self, open_turns: list[dict[str, Any]]) -> int | None:
        for i, t in enumerate(open_turns):
            if t.get("episode_ended") or i + 1 >= self.max_episode_turns:
                return i
        return None

    def close_session(
        self, session_id: str | None = None, config: dict[str, Any] | None = None, *, system_prompt: str | None = None
    ) -> dspy.Prediction:
        """End a session: its open turns (if any) become one episode. Works after a restart.

        Returns:
            ``Prediction(episodes=[...], reflections=[...], usage=Usage)`` as in :meth:`process`.
        """
        ns, sid = self.namespace.resolve(config), session_id_from(session_id, config)
        usage = Usage()
        episodes: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        with self.sessions.lock(ns, sid):
            state = self.sessions.load(ns, sid)
            turns = state["open_turns"]
            state = {**state, "open_turns": [], "closed_at": now_iso()}
            if turns:
                ep, events = self._finish(ns, sid, state, usage, system_prompt or self.system_prompt, config, turns)
                episodes.append(ep)
            elif self.sessions.exists(ns, sid):
                self.store.batch(puts=[self.sessions.put_op(ns, state)])
        self.usage.record(usage)
        return dspy.Prediction(episodes=episodes, reflections=events, usage=usage)

    def _finish(
        self,
        ns: Namespace,
        sid: str,
        state: dict[str, Any],
        usage: Usage,
        agent: str | None,
        config: dict[str, Any] | None,
        done: list[dict[str, Any]],
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Consolidate ``done`` turns, reflect, redact; write episode, reflections and ``state`` in one batch."""
        pred = self.consolidator(turns=done)
        usage.merge(pred.usage)
        fields = self._redact([pred.episode], EPISODE_TEXT_FIELDS, usage)[0]
        record = episode_record(fields, done, sid)
        key = f"{sid}:{done[0]['turn_id']}-{done[-1]['turn_id']}"
        puts = [PutOp(ns, key, record, INDEX_FIELDS), self.sessions.put_op(ns, state)]
        events: list[dict[str, Any]] = []
        if self.generate_reflections:
            rns = self.reflection_namespace.resolve(config)
            changes, shown = self._reflect(ns, rns, record, usage, agent)
            provenance = {"episode_keys": [key], "session_ids": [sid]}
            for c in changes:
                old = shown.get(c.id) if c.operator == "update" else None
                value = updated_reflection_record(old, c, provenance) if old else new_reflection_record(c, provenance)
                puts.append(PutOp(rns, c.id, value, INDEX_FIELDS))
                events.append({"namespace": rns, "key": c.id, "event": "update" if old else "insert", "value": value})
            record["reflection_keys"] = [c.id for c in changes]
        self.store.batch(puts=puts)
        return {"namespace": ns, "key": key, "value": record}, events

    def _reflect(
        self, ns: Namespace, rns: Namespace, record: dict[str, Any], usage: Usage, agent: str | None
    ) -> tuple[list[ReflectionChange], dict[str, dict[str, Any]]]:
        query = f"{record['intent']}\n{record['situation']}"
        past = self._search(ns, query, EPISODE_KIND, self.past_episodes)
        shown = self._search(rns, query, REFLECTION_KIND, self.existing_reflections)
        pred = self.reflector(
            episode=render_episode(record),
            relevant_episodes=[render_episode(r.value, with_turns=False) for r in past],
            existing=[(r.key, r.value) for r in shown],
            system_prompt=agent,
        )
        usage.merge(pred.usage)
        raw = [{"title": c.title, "use_cases": c.use_cases, "hints": c.hints} for c in pred.changes]
        clean = self._redact(raw, ("title", "use_cases", "hints"), usage) if raw else []
        for c, r in zip(pred.changes, clean, strict=True):
            c.title, c.use_cases, c.hints = r["title"], r["use_cases"], r["hints"]
        return pred.changes, {r.key: r.value for r in shown}

    def _search(self, ns: Namespace, query: str, kind: str, k: int, track: bool = False) -> list[RankedMemory]:
        if k < 1:
            return []
        return search_memories(
            self.store, ns, query, filter={"kind": kind}, limit=k, weights=self.weights, track_access=track
        )

    # ---- recall ----------------------------------------------------------------------------------
    def relevant_episode_items(
        self, task: str, k: int = 3, *, config: dict[str, Any] | None = None
    ) -> list[RankedMemory]:
        """The ``k`` stored episodes most relevant to ``task``, ranked (:class:`RankedMemory`)."""
        return self._search(self.namespace.resolve(config), task, EPISODE_KIND, k, track=True)

    def relevant_episodes(self, task: str, k: int = 3, *, config: dict[str, Any] | None = None) -> str:
        """The ``k`` most relevant past episodes as a block for a system prompt ("" when there are none)."""
        return format_episodes([r.value for r in self.relevant_episode_items(task, k, config=config)])

    def relevant_reflection_items(
        self, task: str, k: int = 3, *, config: dict[str, Any] | None = None
    ) -> list[RankedMemory]:
        """The ``k`` stored reflections most relevant to ``task``, ranked (:class:`RankedMemory`)."""
        return self._search(self.reflection_namespace.resolve(config), task, REFLECTION_KIND, k, track=True)

    def relevant_reflections(self, task: str, k: int = 3, *, config: dict[str, Any] | None = None) -> str:
        """The ``k`` most relevant reflections as a block for a system prompt ("" when there are none)."""
        return format_reflections([r.value for r in self.relevant_reflection_items(task, k, config=config)])

    # ---- DSPy / LangMem call shapes --------------------------------------------------------------
    def forward(self, messages: Any, session_id: str | None = None, config: dict[str, Any] | None = None) -> Any:
        """Same as :meth:`process`."""
        return self.process(messages, session_id=session_id, config=config)

    def invoke(self, input: dict[str, Any], config: dict[str, Any] | None = None) -> dspy.Prediction:
        """LangMem's call shape: ``invoke({"messages": [...], "session_id": "s1"}, config=...)``."""
        return self.process(input["messages"], session_id=input.get("session_id"), config=config)

    async def ainvoke(self, input: dict[str, Any], config: dict[str, Any] | None = None) -> dspy.Prediction:
        return await asyncio.to_thread(self.invoke, input, config)

    async def aforward(self, messages: Any, session_id: str | None = None, config: dict[str, Any] | None = None) -> Any:
        return await asyncio.to_thread(self.process, messages, session_id, config)

    async def aclose_session(self, session_id: str | None = None, config: dict[str, Any] | None = None) -> Any:
        return await asyncio.to_thread(self.close_session, session_id, config)
