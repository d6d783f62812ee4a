"""Every DSPy signature of memspy: the framework's whole prompt surface."""

from memspy.signatures.episodes import ConsolidateEpisode, ExtractTurnEpisodes, TurnSummary
from memspy.signatures.extraction import ExtractMemories, MemoryOperation
from memspy.signatures.facts import ExtractFacts, FactDecision, ReconcileFacts
from memspy.signatures.judging import JudgeFactMatch
from memspy.signatures.optimization import (
    ApplyPromptUpdate,
    AttributeFeedback,
    ProposePromptUpdate,
    ReflectOnPrompt,
    RewritePrompt,
)
from memspy.signatures.privacy import FindPersonalData, PersonalDataSpan
from memspy.signatures.qa import AnswerFromMemories, JudgeAnswer
from memspy.signatures.recall import GenerateSearchQueries
from memspy.signatures.reflection import GenerateReflections, ReflectionOperation
from memspy.signatures.summaries import ExtractThread, SummarizeConversation, ThreadSummary

__all__ = [
    "AnswerFromMemories",
    "ApplyPromptUpdate",
    "AttributeFeedback",
    "ConsolidateEpisode",
    "ExtractFacts",
    "ExtractMemories",
    "ExtractThread",
    "ExtractTurnEpisodes",
    "FactDecision",
    "FindPersonalData",
    "GenerateReflections",
    "GenerateSearchQueries",
    "JudgeAnswer",
    "JudgeFactMatch",
    "MemoryOperation",
    "PersonalDataSpan",
    "ProposePromptUpdate",
    "ReconcileFacts",
    "ReflectOnPrompt",
    "ReflectionOperation",
    "RewritePrompt",
    "SummarizeConversation",
    "ThreadSummary",
    "TurnSummary",
]
