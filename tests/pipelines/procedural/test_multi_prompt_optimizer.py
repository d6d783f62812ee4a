"""Multi-prompt optimizer: feedback attribution, name validation, optimizing only the prompts it names."""

from __future__ import annotations

import asyncio
from typing import Any

import dspy
import pytest
from dspy.utils import DummyLM

from memspy.pipelines import PromptOptimizationError
from memspy.pipelines.procedural.multi_prompt_optimizer import create_multi_prompt_optimizer

TEAM = [
    (
        [
            {"role": "user", "content": "Research quantum computing advances"},
            {"role": "assistant", "content": "Found several papers on error correction."},
            {"role": "assistant", "content": "Recent developments show progress."},
            {"role": "user", "content": "The report is missing implementation details"},
        ],
        None,
    ),
    (
        [{"role": "user", "content": "Analyze new ML models"}, {"role": "assistant", "content": "Key findings: ..."}],
        {"score": 0.95},
    ),
]
PROMPTS = [
    {"name": "researcher", "prompt": "You analyze papers for {topic}.", "when_to_update": "findings lack depth"},
    {"name": "writer", "prompt": "You write clear reports."},
]
DEEPER = "You analyze papers for {topic} and always report implementation details."


def lm(*answers: dict[str, Any]) -> DummyLM:
    return DummyLM(list(answers), adapter=dspy.JSONAdapter())


def attribution(*names: str) -> dict[str, Any]:
    return {"analysis": "the research lacked implementation detail", "prompts_to_update": list(names)}


def test_only_attributed_prompts_are_optimized_and_order_is_kept() -> None:
    dummy = lm(attribution("researcher"), {"updated_prompt": DEEPER})
    optimizer = create_multi_prompt_optimizer(kind="prompt_memory")
    with dspy.context(lm=dummy):
        pred = optimizer(trajectories=TEAM, prompts=PROMPTS)
    assert [p["name"] for p in pred.prompts] == ["researcher", "writer"]
    assert pred.prompts[0]["prompt"] == DEEPER and pred.prompts[0]["when_to_update"] == "findings lack depth"
    assert pred.prompts[1] == PROMPTS[1]
    assert pred.attributed == ["researcher"] and pred.updated == ["researcher"]
    assert pred.usage.calls == 2 and pred.usage.by_step["attribute"]["calls"] == 1
    attribute_prompt = str(dummy.history[0]["messages"][-1]["content"])
    assert "## researcher" in attribute_prompt and "findings lack depth" in attribute_prompt
    rewrite_prompt = str(dummy.history[1]["messages"][-1]["content"])
    assert "the research lacked implementation detail" in rewrite_prompt and "writer" in rewrite_prompt


def test_unknown_prompt_name_is_rejected_and_retried() -> None:
    dummy = lm(attribution("editor"), attribution("writer"), {"updated_prompt": "You write reports with details."})
    with dspy.context(lm=dummy):
        out = create_multi_prompt_optimizer(kind="prompt_memory").invoke({"trajectories": TEAM, "prompts": PROMPTS})
    assert out[0] == PROMPTS[0] and out[1]["prompt"] == "You write reports with details."
    retry = str(dummy.history[1]["messages"][-1]["content"])
    assert "editor" in retry and "researcher" in retry and "writer" in retry


def test_persistently_unknown_names_raise() -> None:
    dummy = lm(attribution("editor"), attribution("critic"))
    optimizer = create_multi_prompt_optimizer(kind="prompt_memory", config={"max_retries": 1})
    with dspy.context(lm=dummy), pytest.raises(PromptOptimizationError) as info:
        optimizer(trajectories=TEAM, prompts=PROMPTS)
    assert info.value.step == "attribute" and info.value.attempts == 2 and "critic" in str(info.value)


def test_nothing_attributed_means_nothing_changes() -> None:
    dummy = lm(attribution())
    with dspy.context(lm=dummy):
        pred = create_multi_prompt_optimizer(kind="gradient")(trajectories=TEAM, prompts=PROMPTS)
    assert pred.prompts == PROMPTS and pred.updated == [] and pred.usage.calls == 1


def test_gradient_kind_runs_per_attributed_prompt() -> None:
    propose = {"hypotheses": "h", "recommendations": "add details", "change_warranted": True, "done": True}
    dummy = lm(
        attribution("researcher", "writer"), propose, {"updated_prompt": DEEPER}, propose, {"updated_prompt": "W"}
    )
    with dspy.context(lm=dummy):
        pred = create_multi_prompt_optimizer(kind="gradient")(trajectories=TEAM, prompts=PROMPTS)
    assert [p["prompt"] for p in pred.prompts] == [DEEPER, "W"]
    assert pred.usage.calls == 5 and pred.usage.by_step["propose"]["calls"] == 2


def test_a_single_prompt_skips_attribution() -> None:
    dummy = lm({"updated_prompt": "You write reports with details."})
    with dspy.context(lm=dummy):
        pred = create_multi_prompt_optimizer(kind="prompt_memory")(trajectories=TEAM, prompts=[PROMPTS[1]])
    assert pred.usage.calls == 1 and "attribute" not in pred.usage.by_step
    assert pred.prompts[0]["prompt"] == "You write reports with details."


def test_template_variables_are_protected_per_prompt() -> None:
    dummy = lm(attribution("researcher"), {"updated_prompt": "You analyze papers."}, {"updated_prompt": DEEPER})
    with dspy.context(lm=dummy):
        pred = create_multi_prompt_optimizer(kind="prompt_memory")(trajectories=TEAM, prompts=PROMPTS)
    assert pred.prompts[0]["prompt"] == DEEPER and pred.usage.calls == 3


def test_prompts_need_unique_names() -> None:
    optimizer = create_multi_prompt_optimizer(kind="prompt_memory")
    with pytest.raises(ValueError, match="unique"):
        optimizer(trajectories=TEAM, prompts=[PROMPTS[0], PROMPTS[0]])
    with pytest.raises(ValueError, match="unique"):
        optimizer(trajectories=TEAM, prompts=[{"prompt": "no name"}, PROMPTS[1]])
    with pytest.raises(ValueError, match="non-empty list"):
        optimizer(trajectories=TEAM, prompts=[])


def test_ainvoke_returns_all_prompts() -> None:
    with dspy.context(lm=lm(attribution("writer"), {"updated_prompt": "W2"})):
        out = asyncio.run(
            create_multi_prompt_optimizer(kind="prompt_memory").ainvoke({"trajectories": TEAM, "prompts": PROMPTS})
        )
    assert [p["prompt"] for p in out] == [PROMPTS[0]["prompt"], "W2"]
