"""Single-prompt optimizers: each kind's control flow, template-variable protection, inputs and errors."""

from __future__ import annotations

import asyncio
from typing import Any

import dspy
import pytest
from dspy.utils import DummyLM
from pydantic import BaseModel

from memspy.pipelines import PromptOptimizationError
from memspy.pipelines.procedural.prompt_optimizer import create_prompt_optimizer
from memspy.pipelines.procedural.prompts import as_prompt, check_template, render_trajectories, template_variables

MARS = [
    (
        [
            {"role": "user", "content": "Tell me about Mars"},
            {"role": "assistant", "content": "Mars is the fourth planet."},
            {"role": "user", "content": "I wanted more about its moons"},
        ],
        None,
    ),
    (
        [{"role": "user", "content": "What are Mars' moons?"}, {"role": "assistant", "content": "Phobos and Deimos."}],
        {"score": 0.9, "comment": "Suggest follow-up questions", "tone": "too dry"},
    ),
    (
        [{"role": "user", "content": "Compare Mars and Earth"}, {"role": "assistant", "content": "They differ."}],
        {"revised": "Earth and Mars share a rocky crust but differ in atmosphere."},
    ),
]
PROMPT = "You are {bot_name}, a planetary science expert talking to {user_name}."
BETTER = "You are {bot_name}, a planetary science expert talking to {user_name}. End with two follow-up questions."


def lm(*answers: dict[str, Any]) -> DummyLM:
    return DummyLM(list(answers), adapter=dspy.JSONAdapter())


def reflect(text: str, done: bool) -> dict[str, Any]:
    return {"reflection": text, "done": done}


def propose(recs: str, warranted: bool = True, done: bool = True) -> dict[str, Any]:
    return {"hypotheses": "answers stop short", "recommendations": recs, "change_warranted": warranted, "done": done}


def last_user_message(dummy: DummyLM, call: int = -1) -> str:
    return str(dummy.history[call]["messages"][-1]["content"])


def test_prompt_memory_is_one_call_and_sees_every_kind_of_feedback() -> None:
    dummy = lm({"updated_prompt": BETTER})
    optimizer = create_prompt_optimizer(kind="prompt_memory")
    with dspy.context(lm=dummy):
        pred = optimizer(trajectories=MARS, prompt=PROMPT)
    assert pred.prompt == BETTER and pred.changed and pred.usage.calls == 1
    assert pred.usage.by_step["rewrite"]["calls"] == 1
    sent = last_user_message(dummy)
    for shown in ("I wanted more about its moons", "Score: 0.9", "Suggest follow-up", "tone: too dry", "rocky crust"):
        assert shown in sent


@pytest.mark.parametrize(
    ("min_steps", "max_steps", "done_flags", "reflections"),
    [
        (1, 3, [True], 1),  # stops as soon as the LM is done
        (2, 3, [True, True], 2),  # ... but never before the minimum
        (1, 2, [False, False], 2),  # ... and never past the maximum
        (0, 0, [], 0),  # no reflection at all: straight to the rewrite
    ],
)
def test_metaprompt_reflects_between_min_and_max_steps(
    min_steps: int, max_steps: int, done_flags: list[bool], reflections: int
) -> None:
    answers = [reflect(f"note {i}", done) for i, done in enumerate(done_flags)] + [{"updated_prompt": BETTER}]
    dummy = lm(*answers)
    optimizer = create_prompt_optimizer(
        kind="metaprompt", config={"min_reflection_steps": min_steps, "max_reflection_steps": max_steps}
    )
    with dspy.context(lm=dummy):
        pred = optimizer(trajectories=MARS, prompt=PROMPT)
    assert pred.prompt == BETTER
    assert pred.usage.calls == reflections + 1 == len(dummy.history)
    assert pred.usage.by_step.get("reflect", {}).get("calls", 0) == reflections
    if reflections:
        assert f"note {reflections - 1}" in last_user_message(dummy)  # the rewrite sees the reflections


def test_metaprompt_later_rounds_see_earlier_reflections() -> None:
    dummy = lm(reflect("the moons were skipped", False), reflect("add follow-ups", True), {"updated_prompt": BETTER})
    with dspy.context(lm=dummy):
        create_prompt_optimizer(kind="metaprompt").invoke({"trajectories": MARS, "prompt": PROMPT})
    assert "the moons were skipped" in last_user_message(dummy, 1)
    assert "the moons were skipped" not in last_user_message(dummy, 0)


def test_gradient_proposes_then_applies() -> None:
    dummy = lm(propose("Add: end with two follow-up questions"), {"updated_prompt": BETTER})
    with dspy.context(lm=dummy):
        pred = create_prompt_optimizer(kind="gradient")(trajectories=MARS, prompt=PROMPT)
    assert pred.prompt == BETTER and pred.changed
    assert pred.usage.by_step["propose"]["calls"] == 1 and pred.usage.by_step["apply"]["calls"] == 1
    apply_prompt = last_user_message(dummy)
    assert "Add: end with two follow-up questions" in apply_prompt and "Conversation 1" not in apply_prompt


def test_gradient_no_change_warranted_returns_the_prompt_unchanged_without_applying() -> None:
    dummy = lm(propose("nothing to fix", warranted=False))
    with dspy.context(lm=dummy):
        pred = create_prompt_optimizer(kind="gradient")(trajectories=MARS, prompt=PROMPT)
    assert pred.prompt == PROMPT and not pred.changed
    assert pred.usage.calls == 1 and "apply" not in pred.usage.by_step


def test_gradient_refines_over_rounds_until_done() -> None:
    dummy = lm(propose("draft", done=False), propose("final edits", done=True), {"updated_prompt": BETTER})
    optimizer = create_prompt_optimizer(kind="gradient", config={"max_reflection_steps": 3})
    with dspy.context(lm=dummy):
        pred = optimizer(trajectories=MARS, prompt=PROMPT)
    assert pred.usage.by_step["propose"]["calls"] == 2 and pred.usage.calls == 3
    assert "draft" in last_user_message(dummy, 1)  # round 2 sees round 1
    assert "final edits" in last_user_message(dummy)


def test_dropped_template_variable_is_retried_with_a_correction() -> None:
    dropped = "You are a planetary science expert. End with two follow-up questions."
    dummy = lm({"updated_prompt": dropped}, {"updated_prompt": BETTER})
    with dspy.context(lm=dummy):
        pred = create_prompt_optimizer(kind="prompt_memory")(trajectories=MARS, prompt=PROMPT)
    assert pred.prompt == BETTER and pred.problems == []
    assert pred.usage.calls == 2
    retry = last_user_message(dummy)
    assert "{bot_name}" in retry and "{user_name}" in retry and "dropped" in retry


def test_rewrite_that_keeps_losing_a_variable_is_rejected_and_the_original_kept() -> None:
    dropped = {"updated_prompt": "You are {bot_name}, a space expert."}
    dummy = lm(dropped, dropped)
    optimizer = create_prompt_optimizer(kind="prompt_memory", config={"max_retries": 1})
    with dspy.context(lm=dummy):
        pred = optimizer(trajectories=MARS, prompt=PROMPT)
    assert pred.prompt == PROMPT and not pred.changed
    assert len(pred.problems) == 1 and "{user_name}" in pred.problems[0]
    assert pred.usage.calls == 2
    assert pred.prompt.format(bot_name="Ada", user_name="Sam")  # still formattable


def test_invented_template_variable_is_rejected_in_the_gradient_apply_step() -> None:
    invented = {"updated_prompt": BETTER + " Mention {mission_name}."}
    dummy = lm(propose("mention missions"), invented, {"updated_prompt": BETTER})
    with dspy.context(lm=dummy):
        pred = create_prompt_optimizer(kind="gradient")(trajectories=MARS, prompt=PROMPT)
    assert pred.prompt == BETTER
    assert "{mission_name}" in last_user_message(dummy) and pred.usage.by_step["apply"]["calls"] == 2


def test_unparseable_answers_raise_after_the_retries() -> None:
    dummy = lm({"wrong_field": "x"}, {"wrong_field": "x"})
    optimizer = create_prompt_optimizer(kind="prompt_memory", config={"max_retries": 1})
    with dspy.context(lm=dummy), pytest.raises(PromptOptimizationError) as info:
        optimizer(trajectories=MARS, prompt=PROMPT)
    assert info.value.step == "rewrite" and info.value.attempts == 2 and len(dummy.history) >= 2


def test_template_variables_ignore_escaped_braces_and_json() -> None:
    text = 'Hi {user_name}! Use {{literal}} and JSON like {"a": 1}; {items[0]} and {score:.2f}; {user_name} again.'
    assert template_variables(text) == ["user_name", "items", "score"]
    assert check_template("{a} and {b}", "{b} then {a}") == []
    assert check_template("{a}", "  ") == ["the new prompt is empty"]


def test_prompt_inputs_accept_strings_dicts_and_models() -> None:
    class PromptModel(BaseModel):
        name: str
        prompt: str
        update_instructions: str | None = None
        when_to_update: str | None = None

    model = PromptModel(name="tutor", prompt="Teach.", update_instructions="stay brief")
    assert as_prompt(model) == {"name": "tutor", "prompt": "Teach.", "update_instructions": "stay brief"}
    assert as_prompt("Teach.") == {"name": "prompt", "prompt": "Teach."}
    with pytest.raises(TypeError):
        as_prompt({"name": "no text"})
    dummy = lm({"updated_prompt": "Teach with examples."})
    with dspy.context(lm=dummy):
        create_prompt_optimizer(kind="prompt_memory").invoke({"trajectories": MARS, "prompt": model})
    assert "How to update it: stay brief" in last_user_message(dummy)


def test_trajectories_render_bare_conversations_and_cut_long_ones() -> None:
    long = [{"role": "user", "content": "x" * 50 + "THE END"}]
    text = render_trajectories([long, (long, {"score": 0})], max_chars=20)
    assert text.count("THE END") == 2 and "earlier messages cut" in text and "Score: 0" in text
    with pytest.raises(ValueError):
        render_trajectories([])


def test_ainvoke_returns_the_prompt() -> None:
    with dspy.context(lm=lm({"updated_prompt": BETTER})):
        out = asyncio.run(
            create_prompt_optimizer(kind="prompt_memory").ainvoke({"trajectories": MARS, "prompt": PROMPT})
        )
    assert out == BETTER


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="kind"):
        create_prompt_optimizer(kind="annealing")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown config"):
        create_prompt_optimizer(config={"max_steps": 2})
    with pytest.raises(ValueError):
        create_prompt_optimizer(kind="metaprompt", config={"min_reflection_steps": 3, "max_reflection_steps": 1})


def test_only_the_kinds_predictors_exist() -> None:
    names = {k: [n for n, _ in create_prompt_optimizer(kind=k).named_predictors()] for k in ("gradient", "metaprompt")}
    assert names == {"gradient": ["propose", "apply"], "metaprompt": ["reflect", "rewrite"]}
    assert [n for n, _ in create_prompt_optimizer(kind="prompt_memory").named_predictors()] == ["rewrite"]
