"""The episodic pipelines as compilable programs: ``episode`` (a trajectory becomes an episode) and
``reflection`` (episodes become lessons), with their builders and labeled examples (see :mod:`memspy.evals.compile`).

- ``episode`` compiles :class:`EpisodeRecorder`: :class:`~memspy.pipelines.episodic.EpisodicMemory` called on one
  whole trajectory in a session of its own, so both of its steps run — turn extraction
  (``turn_extractor.extract_turns``) and consolidation (``consolidator.consolidate``). Its predictors are named
  as in ``EpisodicMemory``, so ``EpisodicMemory(store).load("episode.json")`` loads a compiled program. An
  ``episode`` label holds the episode, not the turn summaries the consolidation step is shown, so no predictor's
  fields are labeled: demos come from bootstrapped traces only (``--optimizer labeled`` adds none).
- ``reflection`` compiles :class:`EpisodesReflector`: the :class:`~memspy.pipelines.episodic.Reflector` called
  on a record's ``episodes`` — the first is the new episode, the rest its related past episodes — with no
  existing reflections. Its predictor is ``reflect``, so ``memory.reflector.load("reflection.json")`` loads it.
  Lessons labeled with ``title``, ``use_cases`` and ``hints`` are the ``reflect`` step's answer (``add``
  operations; confidence is not labeled, so demos show the pipeline's default for a missing one, 0.5).
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import uuid
import weakref
from pathlib import Path
from typing import Any

import dspy

from memspy.evals.labeled import LabeledRecord
from memspy.pipelines.episodic import EpisodicMemory, Reflector, render_episode
from memspy.pipelines.episodic.reflection import clamp_confidence
from memspy.pipelines.runtime.usage import Usage
from memspy.stores import BaseStore, EdgeStore

__all__ = [
    "EpisodeRecorder",
    "EpisodesReflector",
    "build_episode",
    "build_reflection",
    "episode_example",
    "episode_text",
    "reflection_example",
]

_EPISODE_FIELDS = ("situation", "intent", "assessment", "justification", "reflection")
_LANGMEM_FIELDS = ("observation", "thoughts", "action", "result")
_COMPILE_CONFIG = {"configurable": {"actor_id": "compile"}}  # fills the default namespace templates


class EpisodeRecorder(EpisodicMemory):
    """:class:`EpisodicMemory` on one whole trajectory: ``forward(messages)`` summarizes its turns in a fresh
    session and closes it, so the open turns are consolidated (``config`` defaults to actor ``compile``).
    Returns ``Prediction(episode=<the first stored episode record, or None>, episodes, turns, usage)``; takes
    the arguments of ``EpisodicMemory``."""

    def forward(self, messages: Any, session_id: str | None = None, config: dict[str, Any] | None = None) -> Any:
        sid = session_id or f"compile-{uuid.uuid4().hex}"
        config = config or _COMPILE_CONFIG
        processed = self.process(messages, session_id=sid, config=config)
        closed = self.close_session(sid, config=config)
        usage = Usage()
        usage.merge(processed.usage)
        usage.merge(closed.usage)
        episodes = [*processed.episodes, *closed.episodes]
        first = episodes[0]["value"] if episodes else None
        return dspy.Prediction(episode=first, episodes=episodes, turns=processed.turns, usage=usage)


def episode_text(episode: dict[str, Any]) -> str:
    """A labeled episode as the reflection step is shown one (as ``render_episode`` renders a stored episode).

    Fields the label leaves out are empty; a bare ``goal_achieved`` stands in for the assessment, and
    LangMem's fields (observation, thoughts, action, result) follow as lines of their own.
    """
    rec = {k: str(episode.get(k) or "") for k in _EPISODE_FIELDS}
    if not rec["assessment"] and isinstance(episode.get("goal_achieved"), bool):
        rec["assessment"] = "Yes" if episode["goal_achieved"] else "No"
    lines = [render_episode(rec, with_turns=False)] if any(rec.values()) else []
    lines += [f"{k.capitalize()}: {episode[k]}" for k in _LANGMEM_FIELDS if episode.get(k)]
    return "\n".join(lines)


class EpisodesReflector(Reflector):
    """:class:`Reflector` that also takes labeled ``episodes``: the first is the new episode, the rest its related
    past episodes (rendered by :func:`episode_text`). Otherwise the same call and ``Prediction(changes, usage)``."""

    def forward(
        self,
        episode: str | None = None,
        relevant_episodes: list[str] | None = None,
        existing: list[tuple[str, dict[str, Any]]] | None = None,
        system_prompt: str | None = None,
        *,
        episodes: list[dict[str, Any]] | None = None,
    ) -> Any:
        if episodes:
            episode, *past = [episode_text(e) for e in episodes]
            relevant_episodes = [*past, *(relevant_episodes or [])]
        if episode is None:
            raise ValueError("give episode= (the new episode's text) or episodes= (labeled episode objects)")
        return super().forward(episode, relevant_episodes, existing, system_prompt)


def _scratch_store() -> EdgeStore:
    """An EdgeStore in a new temporary folder, closed and removed when the process exits."""
    path = Path(tempfile.mkdtemp(prefix="memspy-compile-episodes-"))
    store = EdgeStore(path)
    ref = weakref.ref(store)

    def remove() -> None:
        alive = ref()
        if alive is not None:
            alive.close()
        shutil.rmtree(path, ignore_errors=True)

    atexit.register(remove)
    return store


def build_episode(lm: Any = None, *, store: BaseStore | None = None, program: Any = None, **options: Any) -> Any:
    """The ``episode`` program.

    Args:
        lm: A ``dspy.LM``, a model string, or None for the configured LM.
        store: Where episodes are written while compiling (default: a scratch EdgeStore, removed at exit).
        program: A compiled program's path to load.
        **options: ``EpisodicMemory`` arguments. Defaults here: ``generate_reflections=False`` (reflections
            compile as the ``reflection`` pipeline) and ``redact_with_lm=False`` (pattern redaction still runs).
    """
    options.setdefault("generate_reflections", False)
    options.setdefault("redact_with_lm", False)
    recorder = EpisodeRecorder(store if store is not None else _scratch_store(), lm=lm, **options)
    if program is not None:
        recorder.load(str(program))
    return recorder


def build_reflection(lm: Any = None, *, program: Any = None, **options: Any) -> Any:
    """The ``reflection`` program (:class:`EpisodesReflector`; ``options`` are ``Reflector`` arguments)."""
    reflector = EpisodesReflector(lm, **options)
    if program is not None:
        reflector.load(str(program))
    return reflector


def episode_example(record: LabeledRecord, program: Any) -> dspy.Example:
    """An ``episode`` record as an Example: the trajectory as input, the labeled episode as ``expected``."""
    return record.to_example()


def _operation(lesson: Any) -> dict[str, Any] | None:
    """A labeled lesson as the ``reflect`` step's ``add`` operation; None unless it gives title, use cases and hints."""
    keys = ("title", "use_cases", "hints")
    if not isinstance(lesson, dict) or not all(str(lesson.get(k) or "").strip() for k in keys):
        return None
    return {"operator": "add", "id": None, **{k: lesson[k] for k in keys}, "confidence": clamp_confidence(None)}


def reflection_example(record: LabeledRecord, program: Any) -> dspy.Example:
    """A ``reflection`` record as an Example: ``episodes`` as input, plus the ``reflect`` step's inputs as the
    reflector renders them and, when every lesson gives title, use cases and hints, its labeled answer."""
    new, *past = [episode_text(e) for e in record.fields["episodes"]]
    ops = [_operation(x) for x in record.fields["expected"]]
    labels: dict[str, Any] = {
        "episode": new,
        "relevant_episodes": "\n\n".join(past) or "(none)",  # as Reflector.forward renders what it is given
        "existing_reflections": "(none)",
        "agent_instructions": "(unknown)",
        "corrections": "",
    }
    if all(op is not None for op in ops):
        labels["reflections"] = ops
    example = record.to_example()
    return dspy.Example(base=example, **labels).with_inputs(*example.inputs().keys())
