"""mem0's conveniences on the store manager: optional scopes, metadata, delete_all, history, thresholdable scores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dspy
import pytest
from dspy.utils import DummyLM

from memspy.pipelines import ConfigError, create_memory_store_manager
from memspy.stores import EdgeStore, MiniLMEmbedder

SCOPES = ("user_id", "agent_id", "run_id")


def lm(*answers: dict[str, Any]) -> DummyLM:
    return DummyLM(list(answers), adapter=dspy.JSONAdapter())


def cfg(**ids: str) -> dict[str, Any]:
    return {"configurable": ids}


def say(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


@pytest.fixture
def store(tmp_path: Path, embedder: MiniLMEmbedder) -> Iterator[EdgeStore]:
    s = EdgeStore(tmp_path / "store", embedder=embedder)
    yield s
    s.close()


@pytest.fixture
def manager(store: EdgeStore) -> Any:
    m = create_memory_store_manager(namespace=("memories",), scopes=SCOPES, store=store)
    facts = [
        (cfg(user_id="alice", agent_id="chef"), "Alice is vegetarian", {"category": "food"}),
        (cfg(user_id="alice", agent_id="travel", run_id="r1"), "Alice prefers window seats", {"category": "travel"}),
        (cfg(user_id="bob"), "Bob likes jazz", None),
    ]
    for config, fact, metadata in facts:  # each scope starts empty: one extraction call, nothing to reconcile
        with dspy.context(lm=lm({"facts": [fact]})):
            m.invoke({"messages": say(fact), "metadata": metadata}, config=config)
    return m


def texts(hits: list[Any]) -> set[str]:
    return {h.value["text"] for h in hits}


def test_a_missing_optional_scope_widens_the_search(manager: Any) -> None:
    assert texts(manager.search(None, config=cfg(user_id="alice"))) == {
        "Alice is vegetarian",
        "Alice prefers window seats",
    }
    assert texts(manager.search(None, config=cfg(user_id="alice", agent_id="chef"))) == {"Alice is vegetarian"}
    assert texts(manager.search(None, config=cfg(run_id="r1"))) == {"Alice prefers window seats"}
    assert texts(manager.search(None, config=cfg(user_id="bob"))) == {"Bob likes jazz"}
    assert len(manager.search(None)) == 3
    assert {m.content.content for m in manager.get_memories(cfg(agent_id="travel"))} == {"Alice prefers window seats"}


def test_records_carry_their_scope_and_metadata_and_metadata_filters(manager: Any, store: EdgeStore) -> None:
    (veg,) = manager.search(None, config=cfg(agent_id="chef"))
    assert veg.value["scope"] == {"user_id": "alice", "agent_id": "chef"}
    assert veg.value["metadata"] == {"category": "food"}
    assert texts(manager.search(None, filter={"metadata.category": "travel"})) == {"Alice prefers window seats"}
    assert texts(manager.search(None, config=cfg(user_id="bob"), filter={"metadata.category": "food"})) == set()


def test_writing_needs_at_least_one_scope(manager: Any) -> None:
    with dspy.context(lm=lm({"facts": ["x"]})), pytest.raises(ConfigError, match="user_id"):
        manager.invoke({"messages": say("hello")})
    with pytest.raises(ConfigError, match="non-empty"):
        manager.search(None, config=cfg(user_id=""))


def test_delete_all_removes_one_scope_only(manager: Any) -> None:
    assert manager.delete_all(cfg(user_id="alice")) == 2
    assert manager.search(None, config=cfg(user_id="alice")) == []
    assert texts(manager.search(None)) == {"Bob likes jazz"}
    with pytest.raises(ConfigError, match="delete_all"):
        manager.delete_all()
    assert manager.delete_all(cfg(user_id="alice")) == 0


def test_history_is_an_event_log(manager: Any) -> None:
    (hit,) = manager.search(None, config=cfg(user_id="bob"))
    update = {"decisions": [{"fact": 1, "action": "update", "id": "m1"}]}
    with dspy.context(lm=lm({"facts": ["Bob likes jazz and blues"]}, update)):
        events = manager.invoke({"messages": say("I like blues too")}, config=cfg(user_id="bob"))
    assert [(e["key"], e["event"]) for e in events] == [(hit.key, "update")]
    manager.delete_all(cfg(user_id="bob"))
    log = manager.memory_history(hit.key)
    assert [e["event"] for e in log] == ["ADD", "UPDATE", "DELETE"]
    assert log[0]["old"] is None and log[0]["new"] == {"content": "Bob likes jazz"}
    assert log[1]["old"] == {"content": "Bob likes jazz"} and log[1]["new"] == {"content": "Bob likes jazz and blues"}
    assert log[2]["new"] is None and log[2]["source"] == "delete_all"
    assert log[0]["source"] == "extraction" and log[0]["time"] <= log[1]["time"] <= log[2]["time"]
    assert manager.memory_history("no-such-id") == []


def test_scores_can_be_thresholded(manager: Any) -> None:
    hits = manager.search("what does Alice eat?", config=cfg(user_id="alice"), min_score=0.0)
    assert hits[0].value["text"] == "Alice is vegetarian"
    assert all(0.0 <= h.parts["relevance"] <= 1.0 for h in hits)
    assert manager.search("quantum chromodynamics lattice gauge", config=cfg(user_id="alice"), min_score=0.5) == []
