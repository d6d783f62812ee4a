"""Demo part ``episodic``: a tool-using support trajectory becomes turn summaries, an episode and reflections."""

from __future__ import annotations

import json
import textwrap
from importlib import resources
from typing import Any

from memspy.pipelines.episodic import EpisodicMemory
from memspy.pipelines.runtime import Usage
from memspy.stores import BaseStore

__all__ = ["load_episodic_demo", "run_episodic_demo"]

_WIDTH = 110


def load_episodic_demo() -> dict[str, Any]:
    """The demo trajectory: a flight change with a failed, then a successful ``change_booking`` call."""
    path = resources.files("memspy.cli") / "_data" / "episodic_demo.json"
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _say(label: str, text: Any, indent: int = 4) -> None:
    pad = " " * indent
    body = textwrap.fill(str(text), _WIDTH, initial_indent=pad + f"{label}: ", subsequent_indent=pad + "  ")
    print(body)


def _print_turn(turn: dict[str, Any]) -> None:
    print(f"  turn {turn['turn_id']}:")
    for field in ("situation", "intent", "action", "thought", "assessment_assistant", "assessment_user"):
        _say(field, turn[field])
    print(f"    -> assistant succeeded: {turn['assistant_succeeded']}, episode ended: {turn['episode_ended']}")


def _print_episode(item: dict[str, Any]) -> None:
    ep = item["value"]
    print(f"  episode {item['key']} (turns {', '.join(ep['provenance']['turn_ids'])}):")
    for field in ("situation", "intent", "assessment", "justification", "reflection"):
        _say(field, ep[field])


def _print_reflection(event: dict[str, Any]) -> None:
    r = event["value"]
    print(f"  reflection {event['key']} [{event['event']}] {r['title']!r} confidence={r['confidence']}")
    _say("use_cases", r["use_cases"])
    _say("hints", r["hints"])


def run_episodic_demo(store: BaseStore) -> Usage:
    """Run the episodic strategy on the built-in trajectory with the configured LM (``dspy.settings.lm``).

    Prints the turn summaries, the consolidated episode, the reflections and what an agent about to act on a
    similar task would be given. Writes under ``("demo", "episodes", actor)`` and ``("demo", "reflections",
    actor)``.

    Args:
        store: The store to write to.

    Returns:
        The LM usage of the whole run.
    """
    data = load_episodic_demo()
    memory = EpisodicMemory(
        store,
        namespace=("demo", "episodes", "{actor_id}"),
        reflection_namespace=("demo", "reflections", "{actor_id}"),
        turns_per_call=1,  # the local 1.5B model mixes up turns shown together (measured); larger LMs batch fine
    )
    config = {"configurable": {"actor_id": data["actor_id"]}}
    usage = Usage()
    pred = memory.process(data["messages"], session_id=data["session_id"], config=config)
    usage.merge(pred.usage)
    print(f"  {len(data['messages'])} messages -> {len(pred.turns)} turn summaries:")
    for turn in pred.turns:
        _print_turn(turn)
    episodes, reflections = list(pred.episodes), list(pred.reflections)
    if pred.open_turn_ids:
        print(f"  turns {pred.open_turn_ids} still open: closing the session")
        closed = memory.close_session(data["session_id"], config=config, system_prompt=data["system_prompt"])
        usage.merge(closed.usage)
        episodes += closed.episodes
        reflections += closed.reflections
    for item in episodes:
        _print_episode(item)
    for event in reflections:
        _print_reflection(event)
    if not reflections:
        print("  (no reflection generated)")
    print(f"  for a new task {data['task']!r} an agent's system prompt would get:")
    block = memory.relevant_reflections(data["task"], 2, config=config) or "(nothing relevant yet)"
    print(textwrap.indent(block, "    "))
    print(f"  LM usage by step: {usage.by_step}")
    return usage
