"""Every DSPy signature of memspy: the framework's whole prompt surface."""

from memspy.signatures.extraction import ExtractMemories, MemoryOperation

__all__ = ["ExtractMemories", "MemoryOperation"]
