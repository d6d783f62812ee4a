"""Every DSPy signature of memspy: the framework's whole prompt surface."""

from memspy.signatures.extraction import ExtractMemories, MemoryOperation
from memspy.signatures.optimization import (
    ApplyPromptUpdate,
    AttributeFeedback,
    ProposePromptUpdate,
    ReflectOnPrompt,
    RewritePrompt,
)
from memspy.signatures.qa import AnswerFromMemories, JudgeAnswer

__all__ = [
    "AnswerFromMemories",
    "ApplyPromptUpdate",
    "AttributeFeedback",
    "ExtractMemories",
    "JudgeAnswer",
    "MemoryOperation",
    "ProposePromptUpdate",
    "ReflectOnPrompt",
    "RewritePrompt",
]
