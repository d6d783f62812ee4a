"""``memspy demo``: the seeds' scenarios end to end on the embedded defaults (local LM, EdgeStore)."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import dspy
from tqdm.auto import tqdm

from memspy.cli.demo_checks import Check, check_facts, check_profile, check_top_hits, check_triples, summarize
from memspy.cli.demo_episodic import run_episodic_demo
from memspy.evals.extraction_match import FactMatcher
from memspy.pipelines.errors import LocalModelUnavailableError
from memspy.pipelines.records import ACTIVE, configurable
from memspy.pipelines.runtime import Usage, configure_lm, measure
from memspy.pipelines.semantic import (
    ReflectionExecutor,
    Triple,
    UserProfile,
    create_manage_memory_tool,
    create_memory_store_manager,
    create_search_memory_tool,
)
from memspy.stores import BaseStore, EdgeStore

__all__ = ["PARTS", "DemoReport", "load_demo_data", "main", "run_demo"]


def load_demo_data() -> dict[str, Any]:
    """The built-in demo conversations."""
    data: dict[str, Any] = json.loads((resources.files("memspy.cli") / "_data" / "demo.json").read_text())
    return data


def _show(store: BaseStore, prefix: tuple[str, ...], title: str) -> None:
    items = store.search(prefix, limit=50)
    print(f"  store {'/'.join(prefix)} - {title}:")
    for it in sorted(items, key=lambda i: i.value.get("created_at", "")):
        v = it.value
        state = " [deleted]" if "invalid_at" in v else ""
        print(f"    {it.key[:8]} {v.get('kind', '?'):<12} imp={v.get('importance', 0):.2f} {v.get('text', v)}{state}")
    if not items:
        print("    (empty)")


def _semantic(store: BaseStore, data: dict[str, Any], usage: Usage) -> list[Check]:
    manager = create_memory_store_manager(store=store, namespace=("demo", "memories", "{user_id}"))
    config = {"configurable": {"user_id": "priya"}}
    for conv in tqdm(data["semantic"], desc="extracting memories", unit="conversation"):
        pred = manager(messages=conv["messages"], config=config, thread_id=conv["thread_id"])
        usage.merge(pred.usage)
    _show(store, ("demo", "memories", "priya"), "after three conversations")
    tops: dict[str, list[str]] = {}
    for q in data["semantic_queries"]:
        hits = manager.search(q, config=config, limit=2)
        tops[q] = [h.value["text"] for h in hits]
        print(f"  search {q!r}: " + " | ".join(f"{h.value['text']} ({h.score:.2f})" for h in hits))
    expect = data["expect"]
    matcher = FactMatcher(store.embedder)
    checks = check_facts(store, ("demo", "memories", "priya"), expect["facts"], expect["names"], matcher)
    return checks + check_top_hits(tops, expect["top_hits"])


def _triples(store: BaseStore, data: dict[str, Any], usage: Usage) -> list[Check]:
    manager = create_memory_store_manager(store=store, namespace=("demo", "triples"), schemas=[Triple])
    for i, messages in enumerate(data["triples"], 1):
        pred = manager(messages=messages, config={})
        usage.merge(pred.usage)
        print(f"  conversation {i}: {messages[0]['content']!r} -> " + ", ".join(e["event"] for e in pred.events))
        _show(store, ("demo", "triples"), f"after conversation {i}")
    return check_triples(store, ("demo", "triples"), data["expect"]["triples"])


def _profile(store: BaseStore, data: dict[str, Any], usage: Usage) -> list[Check]:
    manager = create_memory_store_manager(
        store=store, namespace=("demo", "users", "{user_id}", "profile"), schemas=[UserProfile], enable_inserts=False
    )
    for i, messages in enumerate(data["profile"], 1):
        pred = manager(messages=messages, config={"configurable": {"user_id": "alice"}})
        usage.merge(pred.usage)
        _show(store, ("demo", "users", "alice", "profile"), f"after conversation {i}")
    docs = store.search(("demo", "users", "alice", "profile"), filter=ACTIVE, limit=5)
    return check_profile(docs[0].value.get("content") if docs else None, data["expect"]["profile"])


def _tools(store: BaseStore, data: dict[str, Any], usage: Usage) -> list[Check]:
    ns = ("demo", "agent", "{user_id}")
    tools = [create_manage_memory_tool(ns, store=store), create_search_memory_tool(ns, store=store)]
    agent = dspy.ReAct("question -> answer", tools=tools, max_iters=2)
    for thread, question in (("thread-1", data["tools"]["save"]), ("thread-2", data["tools"]["recall"])):
        with configurable(user_id="sam", thread_id=thread), measure(usage, "react"):
            pred = agent(question=question)
        steps = [k for k in pred.trajectory if k.startswith("tool_name")]
        names = [pred.trajectory[k] for k in steps]
        print(f"  {thread}: {question!r} -> tools {names}; answer: {pred.answer!r}")
        _show(store, ("demo", "agent", "sam"), f"after {thread}")
    words = data["expect"]["tools"]
    ok = all(w.lower() in str(pred.answer).lower() for w in words)
    stored = [str(i.value.get("text", "")) for i in store.search(("demo", "agent", "sam"), filter=ACTIVE, limit=20)]
    saved = any(all(w.lower() in t.lower() for w in words) for t in stored)
    return [
        Check("tools", f"the agent stored a memory that mentions {words}", saved, "; ".join(stored) or "none"),
        Check("tools", f"the agent's answer mentions {words}", ok, str(pred.answer)),
    ]


def _background(store: BaseStore, data: dict[str, Any], usage: Usage) -> list[Check]:
    manager = create_memory_store_manager(store=store, namespace=("demo", "background", "{user_id}"))
    config = {"configurable": {"user_id": "kai", "thread_id": "trip"}}
    with ReflectionExecutor(manager) as executor:
        handles = [executor.submit({"messages": m}, config=config, after_seconds=1.0) for m in data["background"]]
        print(f"  submitted {len(handles)} snapshots of one thread; pending: {executor.pending()}")
    print(f"  cancelled by debounce: {sum(h.cancelled() for h in handles)}, errors: {len(executor.errors)}")
    for h in handles:
        if not h.cancelled() and h.exception() is None:
            usage.merge(h.result().usage)
    _show(store, ("demo", "background", "kai"), "after the debounced run")
    return []


def _episodic(store: BaseStore, data: dict[str, Any], usage: Usage) -> list[Check]:
    usage.merge(run_episodic_demo(store))
    return []


PARTS: dict[str, Callable[[BaseStore, dict[str, Any], Usage], list[Check]]] = {
    "semantic": _semantic,
    "triples": _triples,
    "profile": _profile,
    "tools": _tools,
    "background": _background,
    "episodic": _episodic,
}


@dataclass
class DemoReport:
    """What a demo run spent and what it proved."""

    usage: Usage
    checks: list[Check] = field(default_factory=list)


def run_demo(path: str | Path = ".memspy/demo", parts: list[str] | None = None, fresh: bool = True) -> DemoReport:
    """Run demo parts on an ``EdgeStore`` at ``path`` with the configured LM; return the usage and the checks.

    The LM must be configured first (``configure_lm()``); the CLI does that.
    """
    chosen = parts or list(PARTS)
    unknown = [p for p in chosen if p not in PARTS]
    if unknown:
        raise ValueError(f"unknown demo part(s) {unknown}; choose from {list(PARTS)}")
    path = Path(path)
    if fresh and path.exists():
        shutil.rmtree(path)
    data = load_demo_data()
    report = DemoReport(Usage())
    with EdgeStore(path) as store:
        for name in chosen:
            print(f"\n== {name} ==")
            start, usage = time.perf_counter(), Usage()
            checks = PARTS[name](store, data, usage)
            for c in checks:
                print(c.line())
            print(f"  [{name}: {usage}; {time.perf_counter() - start:.1f}s]")
            report.usage.merge(usage)
            report.checks += checks
    print(f"\nmemspy demo: {report.usage}. Store kept at {path}/ (reopen with EdgeStore({str(path)!r})).")
    if report.checks:
        print(summarize(report.checks))
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``memspy demo``: configure the LM, then run the chosen parts; 2 when the LM is missing."""
    p = argparse.ArgumentParser(prog="memspy demo", description="Run the built-in scenarios on the embedded defaults.")
    p.add_argument("--lm", default=None, help="model string (default: $MEMSPY_LM or the offline local model)")
    p.add_argument("--path", default=".memspy/demo", help="EdgeStore directory (recreated)")
    p.add_argument("--part", action="append", help="run only this part (repeatable): semantic, triples, ...")
    args = p.parse_args(argv)
    try:
        lm = configure_lm(args.lm)
    except LocalModelUnavailableError as e:
        print(f"memspy demo: {e}", file=sys.stderr)
        return 2
    print(f"memspy demo on LM {lm.model}, store {args.path}")
    run_demo(args.path, parts=args.part or None)
    return 0
