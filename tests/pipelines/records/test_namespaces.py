"""Namespace templates are filled from configuration and refuse values that could escape their scope."""

from __future__ import annotations

import pytest

from memspy.pipelines import NamespaceConfigError, NamespaceTemplate, configurable


def test_resolve_from_config_and_context() -> None:
    t = NamespaceTemplate(("memories", "{org_id}", "{user_id}"))
    assert t.resolve({"configurable": {"org_id": "acme", "user_id": 7}}) == ("memories", "acme", "7")
    with configurable(org_id="acme"), configurable(user_id="alice"):
        assert t.resolve() == ("memories", "acme", "alice")
        assert t.resolve({"configurable": {"user_id": "bob"}}) == ("memories", "acme", "bob")
    assert NamespaceTemplate("memories").resolve() == ("memories",)


@pytest.mark.parametrize("value", ["", "  ", "a/b", "a\\b", "*", "u?", "..", "x\x00", "{user_id}", True, None, 1.5])
def test_unsafe_values_are_rejected(value: object) -> None:
    with pytest.raises(NamespaceConfigError, match="user_id"):
        NamespaceTemplate(("memories", "{user_id}")).resolve({"configurable": {"user_id": value}})


def test_missing_value_names_the_fix() -> None:
    with pytest.raises(NamespaceConfigError, match=r"config=\{'configurable': \{'user_id'"):
        NamespaceTemplate(("memories", "{user_id}")).resolve({"configurable": {"other": "x"}})
