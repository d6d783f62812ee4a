"""The one record format: every writer's records carry the same bookkeeping and keep versions the same way."""

from __future__ import annotations

from memspy.pipelines.episodic.records import episode_record, new_reflection_record, updated_reflection_record
from memspy.pipelines.episodic.reflection import ReflectionChange
from memspy.pipelines.records.format import MAX_HISTORY, bookkeeping, new_record, updated_record

BOOKKEEPING = {"created_at", "updated_at", "last_accessed_at", "access_count"}


def _change(title: str, confidence: float = 0.6) -> ReflectionChange:
    return ReflectionChange("add", "r1", title, "when booking", "check the fare", confidence)


def test_semantic_and_episodic_records_share_the_bookkeeping_fields() -> None:
    memory = new_record("Memory", "likes tea")
    reflection = new_reflection_record(_change("Check fares"), {"episode_keys": ["e1"]})
    episode = episode_record({"intent": "rebook"}, [{"turn_id": "t1"}], "s1")
    assert BOOKKEEPING | {"history"} <= set(memory) and BOOKKEEPING | {"history"} <= set(reflection)
    assert BOOKKEEPING <= set(episode) and "history" not in episode  # episodes are never rewritten
    assert set(bookkeeping()) == BOOKKEEPING | {"history"} and set(bookkeeping(history=False)) == BOOKKEEPING


def test_new_versions_keep_creation_access_and_a_bounded_history() -> None:
    old = new_record("Memory", "likes tea") | {"created_at": "2020-01-01", "access_count": 4}
    for n in range(MAX_HISTORY + 3):
        old = updated_record(old, f"likes tea, version {n}")
    assert old["created_at"] == "2020-01-01" and old["access_count"] == 4
    assert len(old["history"]) == MAX_HISTORY and old["history"][-1]["content"] == {"content": "likes tea, version 21"}
    first = new_reflection_record(_change("Check fares"), {"episode_keys": ["e1"]}) | {"access_count": 2}
    second = updated_reflection_record(first, _change("Check fares first", 0.8), {"episode_keys": ["e2"]})
    assert second["access_count"] == 2 and second["provenance"] == {"episode_keys": ["e1", "e2"]}
    assert second["history"][-1]["title"] == "Check fares" and second["history"][-1]["provenance"] == {
        "episode_keys": ["e1"]
    }
