"""Procedural memory: prompt optimizers that rewrite one system prompt, or several, from conversations and
feedback (LangMem's ``create_prompt_optimizer`` / ``create_multi_prompt_optimizer``)."""

from memspy.pipelines.procedural.multi_prompt_optimizer import MultiPromptOptimizer, create_multi_prompt_optimizer
from memspy.pipelines.procedural.prompt_optimizer import OptimizerKind, PromptOptimizer, create_prompt_optimizer
from memspy.pipelines.procedural.prompts import Prompt

__all__ = [
    "MultiPromptOptimizer",
    "OptimizerKind",
    "Prompt",
    "PromptOptimizer",
    "create_multi_prompt_optimizer",
    "create_prompt_optimizer",
]
