"""The filter language compiles to the right conditions and rejects what it cannot express."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from memspy.stores import InvalidFilterError, InvalidNamespaceError
from memspy.stores._filters import Condition, compile_filter
from memspy.stores._types import namespace_path, validate_namespace


def test_compile_operators() -> None:
    cf = compile_filter({"kind": "Memory", "score": {"$gte": 0.5, "$lt": 1}, "tag": {"$nin": ["x"]}})
    assert Condition("match", "value.kind", "Memory") in cf.must
    assert Condition("range", "value.score", {"gte": 0.5, "lt": 1.0}) in cf.must
    assert cf.must_not == [Condition("any", "value.tag", ["x"])]
    assert compile_filter({"w": 0.5}).must == [Condition("range", "value.w", {"gte": 0.5, "lte": 0.5})]


@pytest.mark.parametrize(
    ("flt", "match"),
    [
        ({"a": {"$regex": "x"}}, "unknown operator"),
        ({"a": {"$in": []}}, "non-empty list"),
        ({"a": {"$exists": "yes"}}, "True or False"),
        ({"a": {}}, "empty dict"),
        ({"a": [1, 2]}, "compare with"),
        ("kind=Memory", "must be a dict"),
    ],
)
def test_bad_filters_name_the_field(flt: object, match: str) -> None:
    with pytest.raises(InvalidFilterError, match=match):
        compile_filter(flt)  # type: ignore[arg-type]


part = st.text(
    st.characters(min_codepoint=33, max_codepoint=0x2FFF, blacklist_characters="\x7f"), min_size=1, max_size=12
).filter(lambda p: p.strip() != "")  # a blank part (e.g. a lone no-break space) is invalid by design


@given(st.lists(part, min_size=1, max_size=5), st.lists(part, min_size=1, max_size=5))
def test_distinct_namespaces_have_distinct_paths(a: list[str], b: list[str]) -> None:
    na, nb = validate_namespace(a), validate_namespace(b)
    assert (namespace_path(na) == namespace_path(nb)) == (na == nb)
    # a prefix filter matches a path exactly, so ("m", "u1") never reaches ("m", "u10")
    assert namespace_path(na) != namespace_path(na[:-1] + (na[-1] + "0",))


@given(st.text(st.characters(max_codepoint=31), min_size=1, max_size=3))
def test_control_characters_are_rejected(bad: str) -> None:
    with pytest.raises(InvalidNamespaceError):
        validate_namespace(("memories", "u" + bad))
