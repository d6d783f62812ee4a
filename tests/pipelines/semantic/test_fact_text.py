"""What a fact's sentence must not be, and a loop inside one kept once."""

from __future__ import annotations

from memspy.pipelines.semantic.fact_text import names_only, says_nothing, unloop
from memspy.pipelines.semantic.facts import parse_facts
from memspy.pipelines.semantic.schemas import normalize_schemas

__all__: list[str] = []


def test_a_phrase_looped_inside_a_fact_is_kept_once() -> None:
    looped = "The user is at the beach with their family with their family with their family with their"
    listed = parse_facts([looped, "The user said it again and again and again."], normalize_schemas(None))[0]
    assert [f.text for f in listed] == [
        "The user is at the beach with their family",
        "The user said it again and again and again.",
    ]
    assert unloop("Step by step, step by step we go") == "Step by step, step by step we go"  # said twice: kept


def test_what_says_nothing_and_what_does() -> None:
    assert says_nothing("  ") and says_nothing("They look great!") and says_nothing("The chat was about pets.")
    assert says_nothing("Jon congratulates Gina on the new job.")
    assert not says_nothing("Gina got a new job at the bakery.")
    assert says_nothing("Mel shared a photo of the blue vase.") and says_nothing("The user shows pictures of a dog.")
    assert says_nothing("Jon and Gina shared a photo of the studio.")
    assert not says_nothing("Gina takes photos of birds.") and not says_nothing("my sister shared a photo")
    assert names_only("The user is Jon Smith.", ["Jon Smith", "Gina"]) and names_only("Gina", ["Gina"])
    assert not names_only("The user is Japanese.", ["Jon"]) and not names_only("Jon is a banker.", ["Jon"])
