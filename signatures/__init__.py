"""Every DSPy signature of memspy: the framework's whole prompt surface."""

from memspy.signatures.extraction import ExtractMemories, MemoryOperation
from memspy.signatures.qa import AnswerFromMemories, JudgeAnswer

__all__ = ["AnswerFromMemories", "ExtractMemories", "JudgeAnswer", "MemoryOperation"]
