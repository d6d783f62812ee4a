"""Provenance of extracted memories: the messages that support each memory."""

from __future__ import annotations

from memspy.pipelines.semantic.provenance import supporting_ids
from memspy.stores import MiniLMEmbedder

MESSAGES = [
    {"role": "system", "content": "[session date: 3 May 2024]", "id": "S1"},
    {"role": "user", "name": "Priya", "content": "We just brought home a ten-week-old beagle puppy!", "id": "D1:1"},
    {"role": "user", "name": "Sam", "content": "No way, what did you name it?", "id": "D1:2"},
    {"role": "user", "name": "Priya", "content": "Biscuit. Also, I stopped eating meat in January.", "id": "D1:3"},
    {"role": "user", "name": "Sam", "content": "I'm flying to Oslo for a conference next week.", "id": "D1:4"},
]
IDS = [m["id"] for m in MESSAGES]


def test_a_paraphrased_memory_cites_its_source_turn(embedder: MiniLMEmbedder) -> None:
    texts = ["Priya adopted a beagle puppy.", "Priya is vegetarian.", "Sam is going to a conference in Oslo."]
    got = supporting_ids(embedder, texts, MESSAGES, IDS)
    assert "D1:1" in got[0] and "D1:4" not in got[0]
    assert "D1:3" in got[1]
    assert got[2][0] == "D1:4"
    assert all("S1" not in ids for ids in got)  # the session line is context, never evidence
    assert all(len(ids) >= 1 for ids in got) and len(got[0]) <= 3 and len(got[2]) <= 3


def test_without_an_embedder_word_overlap_decides() -> None:
    got = supporting_ids(None, ["Sam is flying to Oslo for a conference."], MESSAGES, IDS)
    assert got == [["D1:4"]]
    # nothing in common with any message: every id, as the word-overlap rule says
    assert supporting_ids(None, ["Quantum chromodynamics"], MESSAGES, IDS) == [IDS]


def test_a_memory_naming_one_speaker_cites_that_speakers_own_messages(embedder: MiniLMEmbedder) -> None:
    messages = [
        {"role": "user", "name": "Caroline", "content": "I went to an LGBTQ support group yesterday.", "id": "a"},
        {"role": "user", "name": "Melanie", "content": "Wow Caroline, a support group! How was it?", "id": "b"},
        {"role": "user", "name": "Melanie", "content": "I painted a lake sunrise last year.", "id": "c"},
        {"role": "user", "name": "Caroline", "content": "Melanie, your painting is lovely.", "id": "d"},
    ]
    ids = [m["id"] for m in messages]
    got = supporting_ids(embedder, ["Caroline went to a support group.", "Melanie painted a sunrise."], messages, ids)
    assert "a" in got[0] and set(got[0]) <= {"a", "d"}  # never Melanie's echo "b"
    assert "c" in got[1] and not {"a", "d"} & set(got[1])
    # naming both speakers (or none) looks at every message
    both = supporting_ids(embedder, ["Caroline likes Melanie's sunrise painting."], messages, ids)[0]
    assert "c" in both or "d" in both
    assert supporting_ids(None, ["Caroline went to a support group."], messages, ids) == [["a"]]
