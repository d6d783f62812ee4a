"""The demo's own checks: they pass on a store that holds what the demo expects and fail on one that does not."""

from __future__ import annotations

from pathlib import Path

from memspy.cli.demo import load_demo_data
from memspy.cli.demo_checks import check_facts, check_profile, check_top_hits, check_triples, summarize
from memspy.evals.extraction_match import FactMatcher
from memspy.pipelines.records import new_record, retired_record
from memspy.pipelines.semantic import Triple
from memspy.stores import EdgeStore, MiniLMEmbedder, PutOp

EXPECT = load_demo_data()["expect"]


def _put(store: EdgeStore, prefix: tuple[str, ...], key: str, value: dict) -> None:
    store.put_many([PutOp(prefix, key, value, ["text"])])


def test_fact_checks_match_paraphrases_and_miss_what_is_absent(tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    ns = ("demo", "memories", "priya")
    with EdgeStore(tmp_path / "s", embedder=embedder) as store:
        for i, text in enumerate(["The user has a beagle puppy called Biscuit.", "Priya doesn't eat meat: vegetarian.",
                                  "Priya is training for the Lisbon half marathon in October."]):  # fmt: skip
            _put(store, ns, f"m{i}", new_record("Memory", text))
        _put(store, ns, "gone", retired_record(new_record("Memory", "Priya runs four days a week.")))
        checks = check_facts(store, ns, EXPECT["facts"], EXPECT["names"], FactMatcher(embedder))
    ok = {c.what: c.ok for c in checks}
    assert ok["remembers 'Priya adopted a beagle puppy called Biscuit.'"]
    assert ok["remembers 'Priya is training for the Lisbon half marathon in October.'"]
    assert not ok["remembers 'Priya runs four days a week.'"]  # only a retired memory says it
    assert not ok["remembers 'Priya wants answers in short bullet points.'"]
    assert summarize(checks).startswith("demo recall: ")


def test_top_hit_triple_and_profile_checks() -> None:
    tops = {"What pet does the user have?": ["Priya has a beagle."], "What is the user's diet?": []}
    got = check_top_hits(tops, {"What pet does the user have?": ["beagle"], "What is the user's diet?": ["vegetarian"]})
    assert [c.ok for c in got] == [True, False]
    assert [c.ok for c in check_profile({"location": "San Diego, California", "language": "Japanese"},
                                        EXPECT["profile"])] == [True, True]  # fmt: skip
    assert not any(c.ok for c in check_profile(None, EXPECT["profile"]))


def test_triple_checks(tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    ns = ("demo", "triples")
    with EdgeStore(tmp_path / "t", embedder=embedder) as store:
        _put(store, ns, "b", new_record("Triple", Triple(subject="Bob", predicate="leads", object="ML team")))
        _put(store, ns, "a", new_record("Triple", Triple(subject="Alice", predicate="manages", object="ML team")))
        _put(store, ns, "c", new_record("Triple", Triple(subject="Alice", predicate="left", object="the company")))
        before = check_triples(store, ns, EXPECT["triples"])
        _put(store, ns, "a", retired_record(store.get(ns, "a").value))  # type: ignore[union-attr]
        after = check_triples(store, ns, EXPECT["triples"])
    assert [c.ok for c in before] == [True, False, True]  # Alice still manages; she mentors no one
    assert [c.ok for c in after] == [True, True, True]  # "Alice left the company" is a new fact, not a leftover
