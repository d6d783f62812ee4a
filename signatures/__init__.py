"""Every DSPy signature of memspy: the framework's whole prompt surface."""

from memspy.signatures.episodes import ConsolidateEpisode, ExtractTurnEpisodes, TurnSummary
from memspy.signatures.extraction import ExtractMemories, MemoryOperation
from memspy.signatures.facts import ExtractFacts, FactDecision, ReconcileFacts
from memspy.signatures.optimization import (
    ApplyPromptUpdate,
    AttributeFeedback,
    ProposePromptUpdate,
    ReflectOnPrompt,
    RewritePrompt,
)
from memspy.signatures.privacy import FindPersonalData, PersonalDataSpan
from memspy.signatures.qa import AnswerFromMemories, JudgeAnswer
from memspy.signatures.reflection import GenerateReflections, ReflectionOperation

__all__ = [
    "AnswerFromMemories",
    "ApplyPromptUpdate",
    "AttributeFeedback",
    "ConsolidateEpisode",
    "ExtractFacts",
    "ExtractMemories",
    "ExtractTurnEpisodes",
    "FactDecision",
    "FindPersonalData",
    "GenerateReflections",
    "JudgeAnswer",
    "MemoryOperation",
    "PersonalDataSpan",
    "ProposePromptUpdate",
    "ReconcileFacts",
    "ReflectOnPrompt",
    "ReflectionOperation",
    "RewritePrompt",
    "TurnSummary",
]
